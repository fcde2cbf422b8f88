"""perfsup as a reinforcement-learning environment (OpenEnv): one episode is one
task (a repository at a commit, its goal, its benchmarks, a step budget) in its
own worktrees, driven through perfsup's own sandbox, metrics and decision rule.

Needs the `env` extra (`pip install 'perfsup[env]'`): the OpenEnv server and
client. Nothing below this layer imports it.
"""
