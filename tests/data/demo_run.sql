BEGIN TRANSACTION;
CREATE TABLE alembic_version (
	version_num VARCHAR(32) NOT NULL, 
	CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)
);
INSERT INTO "alembic_version" VALUES('0004_prompt_eval');
CREATE TABLE artifact (
	id INTEGER NOT NULL, 
	node_id VARCHAR NOT NULL, 
	kind VARCHAR NOT NULL, 
	step VARCHAR NOT NULL, 
	path VARCHAR NOT NULL, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(node_id) REFERENCES node (id)
);
CREATE TABLE calibration (
	id INTEGER NOT NULL, 
	run_id INTEGER NOT NULL, 
	node_id VARCHAR NOT NULL, 
	metric VARCHAR NOT NULL, 
	pairs INTEGER NOT NULL, 
	effect FLOAT NOT NULL, 
	ci_low FLOAT NOT NULL, 
	ci_high FLOAT NOT NULL, 
	noise_floor FLOAT NOT NULL, 
	threshold FLOAT NOT NULL, 
	too_noisy BOOLEAN NOT NULL, 
	action VARCHAR NOT NULL, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(node_id) REFERENCES node (id), 
	FOREIGN KEY(run_id) REFERENCES run (id)
);
INSERT INTO "calibration" VALUES(1,1,'1','time_ms',10,-4.16155206876485106448e-02,-0.128913045010715,8.76343725261192751929e-02,9.41700541398698687256e-02,9.41700541398698687256e-02,1,'raise','2026-12-03 19:12:45.865865');
CREATE TABLE command (
	id INTEGER NOT NULL, 
	kind VARCHAR NOT NULL, 
	args_json VARCHAR NOT NULL, 
	status VARCHAR NOT NULL, 
	result VARCHAR, 
	created_at DATETIME NOT NULL, 
	handled_at DATETIME, 
	PRIMARY KEY (id)
);
CREATE TABLE event (
	id INTEGER NOT NULL, 
	run_id INTEGER, 
	node_id VARCHAR, 
	kind VARCHAR NOT NULL, 
	actor VARCHAR NOT NULL, 
	message VARCHAR NOT NULL, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(run_id) REFERENCES run (id)
);
INSERT INTO "event" VALUES(1,1,NULL,'run_started','engine','run 1 started at d0de60c4e8e2','2026-12-03 19:12:30.379490');
INSERT INTO "event" VALUES(2,1,'1','node_kept','engine','kept: baseline','2026-12-03 19:12:31.374723');
INSERT INTO "event" VALUES(3,1,'1','noise_guard','engine','noise guard: A/A noise hides the 2.0% minimum effect with 14 pairs (time_ms: A/A -4.2% [-12.9, +8.8], noise floor 9.4%, threshold 9.4% (10 pairs)); going on with the threshold raised to the noise floor','2026-12-03 19:12:45.876303');
INSERT INTO "event" VALUES(4,1,'1.1','node_finished','engine','discarded: no change worth keeping: time_ms tie (+10.3%, 90% CI -6.4..+42.0%, threshold 9.4%, 14 pairs)','2026-12-03 19:13:07.953025');
INSERT INTO "event" VALUES(5,1,'1.2','node_kept','engine','kept: re-verified: time_ms 98.1% better (90% CI +97.6..+98.3%, p=0.016 < 0.0276, threshold 0.0%, 6 pairs); time_ms +97.8% over both passes (first +97.5% in 6 pairs, fresh +98.1% in 6 pairs)','2026-12-03 19:13:22.073641');
INSERT INTO "event" VALUES(6,1,'1.2.1','node_finished','engine','checks_failed: check exited with status 1: check.py: FAILED, textstats gives wrong results','2026-12-03 19:13:23.299039');
INSERT INTO "event" VALUES(7,1,'1.2.2','node_finished','engine','build_failed: build exited with status 1: ImportError: cannot import name ''pairwise_fast'' from ''itertools'' (unknown location)','2026-12-03 19:13:24.014207');
INSERT INTO "event" VALUES(8,1,'1.2.3','node_finished','engine','rejected: bench.py: refused, the file is protected (protected entry ''bench.py'')','2026-12-03 19:13:24.165964');
INSERT INTO "event" VALUES(9,1,'1.2','confirmation','engine','end-of-night, best node 1.2 on fresh builds, benchmark: confirmed against the baseline 1: time_ms +98.2% (CI +97.3%..+98.8%); re-verified: time_ms 98.2% better (90% CI +97.3..+98.8%, p=0.016 < 0.0276, threshold 0.0%, 6 pairs); time_ms +98.3% over both passes (first +98.4% in 6 pairs, fresh +98.2% in 6 pairs)','2026-12-03 19:13:40.488888');
INSERT INTO "event" VALUES(10,1,NULL,'budget_reached','engine','experiment budget reached (5 of 5)','2026-12-03 19:13:40.542940');
INSERT INTO "event" VALUES(11,1,NULL,'run_finished','engine','experiment budget reached (5 of 5)','2026-12-03 19:13:40.543113');
CREATE TABLE modelcall (
	id INTEGER NOT NULL, 
	run_id INTEGER NOT NULL, 
	node_id VARCHAR, 
	model VARCHAR NOT NULL, 
	attempt INTEGER NOT NULL, 
	prompt_tokens INTEGER NOT NULL, 
	completion_tokens INTEGER NOT NULL, 
	cached_tokens INTEGER, 
	ttft_s FLOAT, 
	total_s FLOAT, 
	ok BOOLEAN NOT NULL, 
	error VARCHAR, 
	created_at DATETIME NOT NULL, prompt_eval_s FLOAT, 
	PRIMARY KEY (id), 
	FOREIGN KEY(node_id) REFERENCES node (id), 
	FOREIGN KEY(run_id) REFERENCES run (id)
);
INSERT INTO "modelcall" VALUES(1,1,'1.1','scripted:answers.toml',0,1003,124,NULL,1.24443999084178358316e-04,2.07626999326748773455e-04,1,NULL,'2026-12-03 19:12:31.513296',NULL);
INSERT INTO "modelcall" VALUES(2,1,'1.2','scripted:answers.toml',0,1094,192,NULL,4.72900010208832100033e-05,1.74408000020775943994e-04,1,NULL,'2026-12-03 19:13:08.263425',NULL);
INSERT INTO "modelcall" VALUES(3,1,'1.2.1','scripted:answers.toml',0,1031,70,NULL,2.00699996639741584658e-05,6.07199999649310484528e-05,1,NULL,'2026-12-03 19:13:22.159608',NULL);
INSERT INTO "modelcall" VALUES(4,1,'1.2.2','scripted:answers.toml',0,1108,107,NULL,2.47259995376225560903e-05,8.84909986780257895588e-05,1,NULL,'2026-12-03 19:13:23.401854',NULL);
INSERT INTO "modelcall" VALUES(5,1,'1.2.3','scripted:answers.toml',0,1162,46,NULL,2.7300000510877e-05,1.06448000224190764129e-04,1,NULL,'2026-12-03 19:13:24.110638',NULL);
CREATE TABLE node (
	id VARCHAR NOT NULL, 
	run_id INTEGER NOT NULL, 
	parent_id VARCHAR, 
	ordinal INTEGER NOT NULL, 
	depth INTEGER NOT NULL, 
	status VARCHAR NOT NULL, 
	priority INTEGER NOT NULL, 
	description VARCHAR NOT NULL, 
	rationale VARCHAR NOT NULL, 
	answer_text VARCHAR NOT NULL, 
	diff VARCHAR NOT NULL, 
	diff_hash VARCHAR, 
	commit_sha VARCHAR, 
	branch VARCHAR, 
	model VARCHAR, 
	prompt_tokens INTEGER NOT NULL, 
	completion_tokens INTEGER NOT NULL, 
	reason VARCHAR, 
	decision_rule VARCHAR, 
	effect FLOAT, 
	ci_low FLOAT, 
	ci_high FLOAT, 
	p_value FLOAT, 
	pairs_used INTEGER, 
	analysis VARCHAR, 
	created_at DATETIME NOT NULL, 
	started_at DATETIME, 
	finished_at DATETIME, threshold FLOAT, decision_json VARCHAR, 
	PRIMARY KEY (id), 
	FOREIGN KEY(parent_id) REFERENCES node (id), 
	FOREIGN KEY(run_id) REFERENCES run (id)
);
INSERT INTO "node" VALUES('1',1,NULL,0,0,'kept',0,'baseline','','','',NULL,'d0de60c4e8e278a0ae5623cba92493587480f3cc',NULL,NULL,0,0,'baseline',NULL,NULL,NULL,NULL,NULL,NULL,NULL,'2026-12-03 19:12:30.379226',NULL,'2026-12-03 19:12:31.372558',NULL,NULL);
INSERT INTO "node" VALUES('1.1',1,'1',1,1,'discarded',0,'Rename the locals of top_words for readability','`tally` and `ordered` say what the values are; behaviour and speed
are unchanged, top_words is not where the time goes.','DESCRIPTION: Rename the locals of top_words for readability
RATIONALE: `tally` and `ordered` say what the values are; behaviour and speed
are unchanged, top_words is not where the time goes.
textstats/core.py
<<<<<<< SEARCH
    counts = Counter(words)
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return ranked[:n]
=======
    tally = Counter(words)
    ordered = sorted(tally.items(), key=lambda item: (-item[1], item[0]))
    return ordered[:n]
>>>>>>> REPLACE
','diff --git a/textstats/core.py b/textstats/core.py
index 83bf13b..620b71b 100644
--- a/textstats/core.py
+++ b/textstats/core.py
@@ -27,9 +27,9 @@ def unknown_words(words: list[str], vocabulary: list[str]) -> list[str]:
 
 def top_words(words: list[str], n: int) -> list[tuple[str, int]]:
     """The `n` most frequent words with their counts; ties in alphabetical order."""
-    counts = Counter(words)
-    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
-    return ranked[:n]
+    tally = Counter(words)
+    ordered = sorted(tally.items(), key=lambda item: (-item[1], item[0]))
+    return ordered[:n]
 
 
 def bigrams(words: list[str]) -> list[tuple[str, str]]:
','542a1c180a0177b031e97140cd1ba034e622ddb34f3f4a1cf7e30a040e36cbee','30407b0f4708c11a2386d96274e6e015cb1cf301','perfsup/1.1','scripted:answers.toml',1003,124,'no change worth keeping: time_ms tie (+10.3%, 90% CI -6.4..+42.0%, threshold 9.4%, 14 pairs)','sequential-hl-wilcoxon-v3',1.02549152453985437105e-01,-6.42465932022293628733e-02,4.19681939444171092645e-01,0.17877197265625,14,'decide: time_ms tie +10.25% (CI -6.42%..+41.97%, p=0.179, threshold 9.42%, 14 pairs)','2026-12-03 19:12:31.394073','2026-12-03 19:12:31.394890','2026-12-03 19:13:07.947801',9.41700541398698687256e-02,'{"rule": "sequential-hl-wilcoxon-v3", "passes": [{"phase": "decide", "keep": false, "reason": "no change worth keeping: time_ms tie (+10.3%, 90% CI -6.4..+42.0%, threshold 9.4%, 14 pairs)", "rule": "sequential-hl-wilcoxon-v3", "alpha_per_look": {"6": 0.02759088733051743, "10": 0.022759781325969168, "14": 0.0229521774570437}, "spending": "pocock", "looks": [6, 10, 14], "metrics": [{"metric": "time_ms", "verdict": "tie", "effect": 0.10254915245398544, "ci_low": -0.06424659320222936, "ci_high": 0.4196819394441711, "p_value": 0.17877197265625, "pairs": 14, "rule": "sequential-hl-wilcoxon-v3", "threshold": 0.09417005413986987, "role": "primary", "note": "tie: no change worth keeping"}]}]}');
INSERT INTO "node" VALUES('1.2',1,'1',2,1,'kept',0,'Use sets for the membership tests in unknown_words','unknown_words tests every word against the vocabulary list and the
list of unknown words found so far, so it is quadratic. A set of the vocabulary
and a set of the words already reported make each test O(1); the list still
keeps the order of first appearance.','DESCRIPTION: Use sets for the membership tests in unknown_words
RATIONALE: unknown_words tests every word against the vocabulary list and the
list of unknown words found so far, so it is quadratic. A set of the vocabulary
and a set of the words already reported make each test O(1); the list still
keeps the order of first appearance.
textstats/core.py
<<<<<<< SEARCH
    unknown = []
    for word in words:
        if word not in vocabulary and word not in unknown:
            unknown.append(word)
    return unknown
=======
    known = set(vocabulary)
    seen: set[str] = set()
    unknown = []
    for word in words:
        if word not in known and word not in seen:
            seen.add(word)
            unknown.append(word)
    return unknown
>>>>>>> REPLACE
','diff --git a/textstats/core.py b/textstats/core.py
index 83bf13b..16757b1 100644
--- a/textstats/core.py
+++ b/textstats/core.py
@@ -18,9 +18,12 @@ def tokenize(text: str) -> list[str]:
 
 def unknown_words(words: list[str], vocabulary: list[str]) -> list[str]:
     """Words that are not in `vocabulary`, each once, in order of first appearance."""
+    known = set(vocabulary)
+    seen: set[str] = set()
     unknown = []
     for word in words:
-        if word not in vocabulary and word not in unknown:
+        if word not in known and word not in seen:
+            seen.add(word)
             unknown.append(word)
     return unknown
 
','383655c8a0cb65a5a6a89c74ddc76a6fa213342abb7fdf5b224d069c0863fe5a','350880a31c114ef78a378993669c81b94d262dd4','perfsup/1.2','scripted:answers.toml',1094,192,'re-verified: time_ms 98.1% better (90% CI +97.6..+98.3%, p=0.016 < 0.0276, threshold 0.0%, 6 pairs); time_ms +97.8% over both passes (first +97.5% in 6 pairs, fresh +98.1% in 6 pairs)','sequential-hl-wilcoxon-v3',0.980906443112296,9.76202033763781340525e-01,0.982707922003219,0.015625,12,'decide: time_ms better +97.51% (CI +95.89%..+98.47%, p=0.0156, threshold 9.42%, 6 pairs)
verify: time_ms better +98.09% (CI +97.62%..+98.27%, p=0.0156, threshold 0.00%, 6 pairs)','2026-12-03 19:13:08.010145','2026-12-03 19:13:08.011099','2026-12-03 19:13:22.054438',9.41700541398698687256e-02,'{"rule": "sequential-hl-wilcoxon-v3", "passes": [{"phase": "decide", "keep": true, "reason": "time_ms 97.5% better (90% CI +95.9..+98.5%, p=0.016 < 0.0276, threshold 9.4%, 6 pairs)", "rule": "sequential-hl-wilcoxon-v3", "alpha_per_look": {"6": 0.02759088733051743, "10": 0.022759781325969168, "14": 0.0229521774570437}, "spending": "pocock", "looks": [6, 10, 14], "metrics": [{"metric": "time_ms", "verdict": "better", "effect": 0.9751210293862023, "ci_low": 0.958932467968444, "ci_high": 0.9846868878276123, "p_value": 0.015625, "pairs": 6, "rule": "sequential-hl-wilcoxon-v3", "threshold": 0.09417005413986987, "role": "primary", "note": "better at the spent level 0.0276"}]}, {"phase": "verify", "keep": true, "reason": "time_ms 98.1% better (90% CI +97.6..+98.3%, p=0.016 < 0.0276, threshold 0.0%, 6 pairs)", "rule": "sequential-hl-wilcoxon-v3", "alpha_per_look": {"6": 0.02759088733051743, "10": 0.022759781325969168, "14": 0.0229521774570437}, "spending": "pocock", "looks": [6, 10, 14], "metrics": [{"metric": "time_ms", "verdict": "better", "effect": 0.980906443112296, "ci_low": 0.9762020337637813, "ci_high": 0.982707922003219, "p_value": 0.015625, "pairs": 6, "rule": "sequential-hl-wilcoxon-v3", "threshold": 0.0, "role": "primary", "note": "better at the spent level 0.0276"}]}]}');
INSERT INTO "node" VALUES('1.2.1',1,'1.2',1,2,'checks_failed',0,'Skip lower-casing in normalize','str.lower walks the whole text once more; dropping it saves a pass.','DESCRIPTION: Skip lower-casing in normalize
RATIONALE: str.lower walks the whole text once more; dropping it saves a pass.
textstats/core.py
<<<<<<< SEARCH
    return text.lower().translate(_DROP_PUNCTUATION)
=======
    return text.translate(_DROP_PUNCTUATION)
>>>>>>> REPLACE
','diff --git a/textstats/core.py b/textstats/core.py
index 16757b1..c3add54 100644
--- a/textstats/core.py
+++ b/textstats/core.py
@@ -8,7 +8,7 @@ _DROP_PUNCTUATION = str.maketrans("", "", string.punctuation)
 
 def normalize(text: str) -> str:
     """Lower-case `text` and remove ASCII punctuation."""
-    return text.lower().translate(_DROP_PUNCTUATION)
+    return text.translate(_DROP_PUNCTUATION)
 
 
 def tokenize(text: str) -> list[str]:
','970a42fa754800bf0b0102c5616ec3ceda27d2cf5cf86ed8bbe006eca50b1b25','3e7b1329a9a8354ff3aa55d0e3135c1f7eb97ad1','perfsup/1.2.1','scripted:answers.toml',1031,70,'check exited with status 1: check.py: FAILED, textstats gives wrong results',NULL,NULL,NULL,NULL,NULL,NULL,NULL,'2026-12-03 19:13:22.091127','2026-12-03 19:13:22.100372','2026-12-03 19:13:23.296513',NULL,NULL);
INSERT INTO "node" VALUES('1.2.2',1,'1.2',2,2,'build_failed',0,'Build bigrams with itertools.pairwise_fast','Avoids the slice copy of the word list.','DESCRIPTION: Build bigrams with itertools.pairwise_fast
RATIONALE: Avoids the slice copy of the word list.
textstats/core.py
<<<<<<< SEARCH
import string
from collections import Counter
=======
import string
from collections import Counter
from itertools import pairwise_fast
>>>>>>> REPLACE
textstats/core.py
<<<<<<< SEARCH
    return list(zip(words, words[1:]))
=======
    return list(pairwise_fast(words))
>>>>>>> REPLACE
','diff --git a/textstats/core.py b/textstats/core.py
index 16757b1..9191dd5 100644
--- a/textstats/core.py
+++ b/textstats/core.py
@@ -2,6 +2,7 @@
 
 import string
 from collections import Counter
+from itertools import pairwise_fast
 
 _DROP_PUNCTUATION = str.maketrans("", "", string.punctuation)
 
@@ -37,7 +38,7 @@ def top_words(words: list[str], n: int) -> list[tuple[str, int]]:
 
 def bigrams(words: list[str]) -> list[tuple[str, str]]:
     """Pairs of consecutive words."""
-    return list(zip(words, words[1:]))
+    return list(pairwise_fast(words))
 
 
 def summarize(text: str, vocabulary: list[str]) -> dict[str, object]:
','0a384704da482216176f646bcd7a9666bbc8f4447feae60905d9cfdd3e33b868','e905b4345f90b7919a677ccb2ade70fe9e16ccf2','perfsup/1.2.2','scripted:answers.toml',1108,107,'build exited with status 1: ImportError: cannot import name ''pairwise_fast'' from ''itertools'' (unknown location)',NULL,NULL,NULL,NULL,NULL,NULL,NULL,'2026-12-03 19:13:23.324869','2026-12-03 19:13:23.329244','2026-12-03 19:13:24.011698',NULL,NULL);
INSERT INTO "node" VALUES('1.2.3',1,'1.2',3,2,'rejected',0,'Time a smaller input in the benchmark','Fewer words make every call faster.','DESCRIPTION: Time a smaller input in the benchmark
RATIONALE: Fewer words make every call faster.
bench.py
<<<<<<< SEARCH
TEXT_WORDS = 3000
=======
TEXT_WORDS = 300
>>>>>>> REPLACE
','',NULL,NULL,NULL,'scripted:answers.toml',1162,46,'bench.py: refused, the file is protected (protected entry ''bench.py'')',NULL,NULL,NULL,NULL,NULL,NULL,NULL,'2026-12-03 19:13:24.027152','2026-12-03 19:13:24.036869','2026-12-03 19:13:24.163956',NULL,NULL);
CREATE TABLE run (
	id INTEGER NOT NULL, 
	created_at DATETIME NOT NULL, 
	finished_at DATETIME, 
	status VARCHAR NOT NULL, 
	stop_reason VARCHAR, 
	goal VARCHAR NOT NULL, 
	config_toml VARCHAR NOT NULL, 
	repo_path VARCHAR NOT NULL, 
	baseline_commit VARCHAR NOT NULL, 
	root_node_id VARCHAR NOT NULL, 
	from_node_id VARCHAR, 
	tokens_used INTEGER NOT NULL, engine_state VARCHAR DEFAULT 'stopped' NOT NULL, engine_detail VARCHAR DEFAULT '' NOT NULL, engine_pid INTEGER, heartbeat_at DATETIME, 
	PRIMARY KEY (id)
);
INSERT INTO "run" VALUES(1,'2026-12-03 19:12:30.376567','2026-12-03 19:13:40.542768','finished','experiment budget reached (5 of 5)','Make bench.py report a lower time_ms: speed up textstats.summarize without changing any result that check.py verifies.','# perfsup demo: make textstats.summarize faster without changing its results.
# The model is scripted: answers.toml replays five answers in order (a no-op,
# the real speed-up, a wrong result, a broken import, an edit of bench.py).

[target]
repo = "."
base = "HEAD"
goal = "Make bench.py report a lower time_ms: speed up textstats.summarize without changing any result that check.py verifies."

[build]
# compileall catches syntax errors; the import catches names that do not exist.
run = ''python -m compileall -q textstats && python -c "import textstats"''
timeout_s = 60

[check]
run = "python check.py"
timeout_s = 60

[bench]
run = "python bench.py"
timeout_s = 60
# At most 14 pairs per pass, looked at after 6, 10 and 14 (see [decision]): a
# change that wins all of the first six pairs stops there (p = 1/64).
pairs = 14
warmup = 1

[[metrics]]
name = "time_ms"
unit = "ms"
direction = "lower"

[access]
writable = ["textstats"]
protected = ["bench.py", "check.py", "perfsup.toml", "answers.toml"]

[model]
backend = "scripted"
script = "answers.toml"

[budgets]
max_experiments = 5

[decision]
min_effect = 0.02
alpha = 0.05
looks = [6, 10, 14]
# The demo''s timings are bimodal on many machines (a process lands in a fast or
# a slow mode), far noisier than 2%: go on with the threshold raised to what
# the A/A calibration says the noise allows, rather than wait for quiet.
on_noise = "raise"
calibration_pairs = 10
# The demo also runs on shared CI machines: never wait for their load.
max_load_per_core = 0
','repo','d0de60c4e8e278a0ae5623cba92493587480f3cc','1',NULL,5937,'stopped','',2498,'2026-12-03 19:13:40.592456');
CREATE TABLE sample (
	id INTEGER NOT NULL, 
	node_id VARCHAR NOT NULL, 
	metric VARCHAR NOT NULL, 
	side VARCHAR NOT NULL, 
	pair_index INTEGER NOT NULL, 
	warmup BOOLEAN NOT NULL, 
	value FLOAT NOT NULL, 
	host VARCHAR NOT NULL, 
	measured_at DATETIME NOT NULL, phase VARCHAR DEFAULT 'decide' NOT NULL, cpu_model VARCHAR DEFAULT '' NOT NULL, cpu_count INTEGER, governor VARCHAR, load_avg FLOAT, on_battery BOOLEAN, 
	PRIMARY KEY (id), 
	FOREIGN KEY(node_id) REFERENCES node (id)
);
INSERT INTO "sample" VALUES(1,'1','time_ms','parent',0,1,116.613,'vm','2026-12-03 19:12:33.073880','calibrate','AMD EPYC',2,NULL,9.1552734375,NULL);
INSERT INTO "sample" VALUES(2,'1','time_ms','candidate',0,1,90.715,'vm','2026-12-03 19:12:33.615274','calibrate','AMD EPYC',2,NULL,9.1552734375,NULL);
INSERT INTO "sample" VALUES(3,'1','time_ms','candidate',0,0,90.622,'vm','2026-12-03 19:12:34.390279','calibrate','AMD EPYC',2,NULL,9.1552734375,NULL);
INSERT INTO "sample" VALUES(4,'1','time_ms','parent',0,0,85.302,'vm','2026-12-03 19:12:34.954929','calibrate','AMD EPYC',2,NULL,9.1552734375,NULL);
INSERT INTO "sample" VALUES(5,'1','time_ms','parent',1,0,69.981,'vm','2026-12-03 19:12:35.489543','calibrate','AMD EPYC',2,NULL,9.1552734375,NULL);
INSERT INTO "sample" VALUES(6,'1','time_ms','candidate',1,0,77.012,'vm','2026-12-03 19:12:36.089384','calibrate','AMD EPYC',2,NULL,9.1552734375,NULL);
INSERT INTO "sample" VALUES(7,'1','time_ms','candidate',2,0,93.229,'vm','2026-12-03 19:12:36.671132','calibrate','AMD EPYC',2,NULL,9.1552734375,NULL);
INSERT INTO "sample" VALUES(8,'1','time_ms','parent',2,0,79.965,'vm','2026-12-03 19:12:37.249361','calibrate','AMD EPYC',2,NULL,9.38330078125,NULL);
INSERT INTO "sample" VALUES(9,'1','time_ms','candidate',3,0,75.803,'vm','2026-12-03 19:12:37.881652','calibrate','AMD EPYC',2,NULL,9.38330078125,NULL);
INSERT INTO "sample" VALUES(10,'1','time_ms','parent',3,0,124.452,'vm','2026-12-03 19:12:38.569577','calibrate','AMD EPYC',2,NULL,9.38330078125,NULL);
INSERT INTO "sample" VALUES(11,'1','time_ms','candidate',4,0,80.177,'vm','2026-12-03 19:12:39.189281','calibrate','AMD EPYC',2,NULL,9.38330078125,NULL);
INSERT INTO "sample" VALUES(12,'1','time_ms','parent',4,0,78.169,'vm','2026-12-03 19:12:39.737601','calibrate','AMD EPYC',2,NULL,9.38330078125,NULL);
INSERT INTO "sample" VALUES(13,'1','time_ms','parent',5,0,90.534,'vm','2026-12-03 19:12:40.294252','calibrate','AMD EPYC',2,NULL,9.38330078125,NULL);
INSERT INTO "sample" VALUES(14,'1','time_ms','candidate',5,0,95.766,'vm','2026-12-03 19:12:41.025540','calibrate','AMD EPYC',2,NULL,9.38330078125,NULL);
INSERT INTO "sample" VALUES(15,'1','time_ms','candidate',6,0,91.562,'vm','2026-12-03 19:12:41.677271','calibrate','AMD EPYC',2,NULL,9.91357421875,NULL);
INSERT INTO "sample" VALUES(16,'1','time_ms','parent',6,0,92.57,'vm','2026-12-03 19:12:42.241275','calibrate','AMD EPYC',2,NULL,9.91357421875,NULL);
INSERT INTO "sample" VALUES(17,'1','time_ms','candidate',7,0,116.557,'vm','2026-12-03 19:12:42.913646','calibrate','AMD EPYC',2,NULL,9.91357421875,NULL);
INSERT INTO "sample" VALUES(18,'1','time_ms','parent',7,0,76.968,'vm','2026-12-03 19:12:43.523195','calibrate','AMD EPYC',2,NULL,9.91357421875,NULL);
INSERT INTO "sample" VALUES(19,'1','time_ms','candidate',8,0,75.63,'vm','2026-12-03 19:12:44.141197','calibrate','AMD EPYC',2,NULL,9.91357421875,NULL);
INSERT INTO "sample" VALUES(20,'1','time_ms','parent',8,0,73.794,'vm','2026-12-03 19:12:44.624777','calibrate','AMD EPYC',2,NULL,9.91357421875,NULL);
INSERT INTO "sample" VALUES(21,'1','time_ms','candidate',9,0,72.755,'vm','2026-12-03 19:12:45.173007','calibrate','AMD EPYC',2,NULL,9.91357421875,NULL);
INSERT INTO "sample" VALUES(22,'1','time_ms','parent',9,0,86.451,'vm','2026-12-03 19:12:45.861491','calibrate','AMD EPYC',2,NULL,9.91357421875,NULL);
INSERT INTO "sample" VALUES(23,'1.1','time_ms','parent',0,1,101.555,'vm','2026-12-03 19:12:46.540814','decide','AMD EPYC',2,NULL,9.91357421875,NULL);
INSERT INTO "sample" VALUES(24,'1.1','time_ms','candidate',0,1,79.217,'vm','2026-12-03 19:12:47.310351','decide','AMD EPYC',2,NULL,10.0009765625,NULL);
INSERT INTO "sample" VALUES(25,'1.1','time_ms','parent',0,0,79.607,'vm','2026-12-03 19:12:47.935380','decide','AMD EPYC',2,NULL,10.0009765625,NULL);
INSERT INTO "sample" VALUES(26,'1.1','time_ms','candidate',0,0,99.513,'vm','2026-12-03 19:12:48.979069','decide','AMD EPYC',2,NULL,10.0009765625,NULL);
INSERT INTO "sample" VALUES(27,'1.1','time_ms','parent',1,0,47.862,'vm','2026-12-03 19:12:49.469576','decide','AMD EPYC',2,NULL,10.0009765625,NULL);
INSERT INTO "sample" VALUES(28,'1.1','time_ms','candidate',1,0,50.486,'vm','2026-12-03 19:12:49.804631','decide','AMD EPYC',2,NULL,10.0009765625,NULL);
INSERT INTO "sample" VALUES(29,'1.1','time_ms','candidate',2,0,41.163,'vm','2026-12-03 19:12:50.132544','decide','AMD EPYC',2,NULL,10.0009765625,NULL);
INSERT INTO "sample" VALUES(30,'1.1','time_ms','parent',2,0,52.315,'vm','2026-12-03 19:12:50.505574','decide','AMD EPYC',2,NULL,10.0009765625,NULL);
INSERT INTO "sample" VALUES(31,'1.1','time_ms','candidate',3,0,37.874,'vm','2026-12-03 19:12:51.176166','decide','AMD EPYC',2,NULL,10.0009765625,NULL);
INSERT INTO "sample" VALUES(32,'1.1','time_ms','parent',3,0,90.425,'vm','2026-12-03 19:12:51.795395','decide','AMD EPYC',2,NULL,10.2412109375,NULL);
INSERT INTO "sample" VALUES(33,'1.1','time_ms','candidate',4,0,26.69,'vm','2026-12-03 19:12:52.341162','decide','AMD EPYC',2,NULL,10.2412109375,NULL);
INSERT INTO "sample" VALUES(34,'1.1','time_ms','parent',4,0,107.625,'vm','2026-12-03 19:12:53.027173','decide','AMD EPYC',2,NULL,10.2412109375,NULL);
INSERT INTO "sample" VALUES(35,'1.1','time_ms','parent',5,0,77.218,'vm','2026-12-03 19:12:53.638525','decide','AMD EPYC',2,NULL,10.2412109375,NULL);
INSERT INTO "sample" VALUES(36,'1.1','time_ms','candidate',5,0,44.811,'vm','2026-12-03 19:12:54.045524','decide','AMD EPYC',2,NULL,10.2412109375,NULL);
INSERT INTO "sample" VALUES(37,'1.1','time_ms','candidate',6,0,112.458,'vm','2026-12-03 19:12:55.274334','decide','AMD EPYC',2,NULL,10.2412109375,NULL);
INSERT INTO "sample" VALUES(38,'1.1','time_ms','parent',6,0,32.581,'vm','2026-12-03 19:12:55.790556','decide','AMD EPYC',2,NULL,10.2412109375,NULL);
INSERT INTO "sample" VALUES(39,'1.1','time_ms','candidate',7,0,134.737,'vm','2026-12-03 19:12:56.765834','decide','AMD EPYC',2,NULL,10.70263671875,NULL);
INSERT INTO "sample" VALUES(40,'1.1','time_ms','parent',7,0,107.202,'vm','2026-12-03 19:12:57.605584','decide','AMD EPYC',2,NULL,10.70263671875,NULL);
INSERT INTO "sample" VALUES(41,'1.1','time_ms','candidate',8,0,106.221,'vm','2026-12-03 19:12:58.322615','decide','AMD EPYC',2,NULL,10.70263671875,NULL);
INSERT INTO "sample" VALUES(42,'1.1','time_ms','parent',8,0,118.453,'vm','2026-12-03 19:12:59.116637','decide','AMD EPYC',2,NULL,10.70263671875,NULL);
INSERT INTO "sample" VALUES(43,'1.1','time_ms','candidate',9,0,37.632,'vm','2026-12-03 19:12:59.732561','decide','AMD EPYC',2,NULL,10.70263671875,NULL);
INSERT INTO "sample" VALUES(44,'1.1','time_ms','parent',9,0,127.348,'vm','2026-12-03 19:13:00.621579','decide','AMD EPYC',2,NULL,10.70263671875,NULL);
INSERT INTO "sample" VALUES(45,'1.1','time_ms','parent',10,0,93.313,'vm','2026-12-03 19:13:01.365225','decide','AMD EPYC',2,NULL,10.70263671875,NULL);
INSERT INTO "sample" VALUES(46,'1.1','time_ms','candidate',10,0,110.838,'vm','2026-12-03 19:13:02.241400','decide','AMD EPYC',2,NULL,11.046875,NULL);
INSERT INTO "sample" VALUES(47,'1.1','time_ms','candidate',11,0,106.713,'vm','2026-12-03 19:13:03.078483','decide','AMD EPYC',2,NULL,11.046875,NULL);
INSERT INTO "sample" VALUES(48,'1.1','time_ms','parent',11,0,118.812,'vm','2026-12-03 19:13:03.853908','decide','AMD EPYC',2,NULL,11.046875,NULL);
INSERT INTO "sample" VALUES(49,'1.1','time_ms','candidate',12,0,136.049,'vm','2026-12-03 19:13:04.734102','decide','AMD EPYC',2,NULL,11.046875,NULL);
INSERT INTO "sample" VALUES(50,'1.1','time_ms','parent',12,0,133.285,'vm','2026-12-03 19:13:05.571068','decide','AMD EPYC',2,NULL,11.046875,NULL);
INSERT INTO "sample" VALUES(51,'1.1','time_ms','candidate',13,0,137.555,'vm','2026-12-03 19:13:06.706750','decide','AMD EPYC',2,NULL,11.44384765625,NULL);
INSERT INTO "sample" VALUES(52,'1.1','time_ms','parent',13,0,151.817,'vm','2026-12-03 19:13:07.810282','decide','AMD EPYC',2,NULL,11.44384765625,NULL);
INSERT INTO "sample" VALUES(53,'1.2','time_ms','parent',0,1,106.598,'vm','2026-12-03 19:13:10.525194','decide','AMD EPYC',2,NULL,11.44384765625,NULL);
INSERT INTO "sample" VALUES(54,'1.2','time_ms','candidate',0,1,3.328,'vm','2026-12-03 19:13:11.199919','decide','AMD EPYC',2,NULL,11.44384765625,NULL);
INSERT INTO "sample" VALUES(55,'1.2','time_ms','candidate',0,0,1.271,'vm','2026-12-03 19:13:11.604803','decide','AMD EPYC',2,NULL,11.44384765625,NULL);
INSERT INTO "sample" VALUES(56,'1.2','time_ms','parent',0,0,74.454,'vm','2026-12-03 19:13:12.317339','decide','AMD EPYC',2,NULL,11.248046875,NULL);
INSERT INTO "sample" VALUES(57,'1.2','time_ms','parent',1,0,80.557,'vm','2026-12-03 19:13:12.868542','decide','AMD EPYC',2,NULL,11.248046875,NULL);
INSERT INTO "sample" VALUES(58,'1.2','time_ms','candidate',1,0,1.87,'vm','2026-12-03 19:13:13.207891','decide','AMD EPYC',2,NULL,11.248046875,NULL);
INSERT INTO "sample" VALUES(59,'1.2','time_ms','parent',2,0,171.767,'vm','2026-12-03 19:13:14.120259','decide','AMD EPYC',2,NULL,11.248046875,NULL);
INSERT INTO "sample" VALUES(60,'1.2','time_ms','candidate',2,0,9.037,'vm','2026-12-03 19:13:14.636556','decide','AMD EPYC',2,NULL,11.248046875,NULL);
INSERT INTO "sample" VALUES(61,'1.2','time_ms','candidate',3,0,1.196,'vm','2026-12-03 19:13:14.974996','decide','AMD EPYC',2,NULL,11.248046875,NULL);
INSERT INTO "sample" VALUES(62,'1.2','time_ms','parent',3,0,78.103,'vm','2026-12-03 19:13:15.573466','decide','AMD EPYC',2,NULL,11.248046875,NULL);
INSERT INTO "sample" VALUES(63,'1.2','time_ms','candidate',4,0,1.284,'vm','2026-12-03 19:13:15.874476','decide','AMD EPYC',2,NULL,11.248046875,NULL);
INSERT INTO "sample" VALUES(64,'1.2','time_ms','parent',4,0,85.192,'vm','2026-12-03 19:13:16.625130','decide','AMD EPYC',2,NULL,11.248046875,NULL);
INSERT INTO "sample" VALUES(65,'1.2','time_ms','parent',5,0,53.619,'vm','2026-12-03 19:13:17.201379','decide','AMD EPYC',2,NULL,11.46875,NULL);
INSERT INTO "sample" VALUES(66,'1.2','time_ms','candidate',5,0,2.202,'vm','2026-12-03 19:13:17.545677','decide','AMD EPYC',2,NULL,11.46875,NULL);
INSERT INTO "sample" VALUES(67,'1.2','time_ms','candidate',0,0,1.259,'vm','2026-12-03 19:13:17.812820','verify','AMD EPYC',2,NULL,11.46875,NULL);
INSERT INTO "sample" VALUES(68,'1.2','time_ms','parent',0,0,59.414,'vm','2026-12-03 19:13:18.276232','verify','AMD EPYC',2,NULL,11.46875,NULL);
INSERT INTO "sample" VALUES(69,'1.2','time_ms','candidate',1,0,1.621,'vm','2026-12-03 19:13:18.507354','verify','AMD EPYC',2,NULL,11.46875,NULL);
INSERT INTO "sample" VALUES(70,'1.2','time_ms','parent',1,0,54.65,'vm','2026-12-03 19:13:19.032731','verify','AMD EPYC',2,NULL,11.46875,NULL);
INSERT INTO "sample" VALUES(71,'1.2','time_ms','candidate',2,0,1.249,'vm','2026-12-03 19:13:19.261209','verify','AMD EPYC',2,NULL,11.46875,NULL);
INSERT INTO "sample" VALUES(72,'1.2','time_ms','parent',2,0,77.361,'vm','2026-12-03 19:13:19.701869','verify','AMD EPYC',2,NULL,11.46875,NULL);
INSERT INTO "sample" VALUES(73,'1.2','time_ms','parent',3,0,79.85,'vm','2026-12-03 19:13:20.136129','verify','AMD EPYC',2,NULL,11.46875,NULL);
INSERT INTO "sample" VALUES(74,'1.2','time_ms','candidate',3,0,1.442,'vm','2026-12-03 19:13:20.434518','verify','AMD EPYC',2,NULL,11.46875,NULL);
INSERT INTO "sample" VALUES(75,'1.2','time_ms','candidate',4,0,1.347,'vm','2026-12-03 19:13:20.749494','verify','AMD EPYC',2,NULL,11.46875,NULL);
INSERT INTO "sample" VALUES(76,'1.2','time_ms','parent',4,0,72.73,'vm','2026-12-03 19:13:21.180949','verify','AMD EPYC',2,NULL,11.46875,NULL);
INSERT INTO "sample" VALUES(77,'1.2','time_ms','candidate',5,0,1.239,'vm','2026-12-03 19:13:21.516506','verify','AMD EPYC',2,NULL,11.46875,NULL);
INSERT INTO "sample" VALUES(78,'1.2','time_ms','parent',5,0,64.891,'vm','2026-12-03 19:13:22.045256','verify','AMD EPYC',2,NULL,11.19091796875,NULL);
INSERT INTO "sample" VALUES(79,'1.2','time_ms','parent',0,1,97.376,'vm','2026-12-03 19:13:25.862058','confirm','AMD EPYC',2,NULL,11.19091796875,NULL);
INSERT INTO "sample" VALUES(80,'1.2','time_ms','candidate',0,1,1.959,'vm','2026-12-03 19:13:26.433430','confirm','AMD EPYC',2,NULL,11.19091796875,NULL);
INSERT INTO "sample" VALUES(81,'1.2','time_ms','parent',0,0,147.338,'vm','2026-12-03 19:13:27.323697','confirm','AMD EPYC',2,NULL,11.416015625,NULL);
INSERT INTO "sample" VALUES(82,'1.2','time_ms','candidate',0,0,2.33,'vm','2026-12-03 19:13:27.773777','confirm','AMD EPYC',2,NULL,11.416015625,NULL);
INSERT INTO "sample" VALUES(83,'1.2','time_ms','parent',1,0,77.845,'vm','2026-12-03 19:13:28.395570','confirm','AMD EPYC',2,NULL,11.416015625,NULL);
INSERT INTO "sample" VALUES(84,'1.2','time_ms','candidate',1,0,1.283,'vm','2026-12-03 19:13:28.733688','confirm','AMD EPYC',2,NULL,11.416015625,NULL);
INSERT INTO "sample" VALUES(85,'1.2','time_ms','parent',2,0,67.164,'vm','2026-12-03 19:13:29.221312','confirm','AMD EPYC',2,NULL,11.416015625,NULL);
INSERT INTO "sample" VALUES(86,'1.2','time_ms','candidate',2,0,1.921,'vm','2026-12-03 19:13:29.646056','confirm','AMD EPYC',2,NULL,11.416015625,NULL);
INSERT INTO "sample" VALUES(87,'1.2','time_ms','parent',3,0,94.023,'vm','2026-12-03 19:13:30.294198','confirm','AMD EPYC',2,NULL,11.416015625,NULL);
INSERT INTO "sample" VALUES(88,'1.2','time_ms','candidate',3,0,1.483,'vm','2026-12-03 19:13:30.894621','confirm','AMD EPYC',2,NULL,11.416015625,NULL);
INSERT INTO "sample" VALUES(89,'1.2','time_ms','parent',4,0,92.522,'vm','2026-12-03 19:13:31.558352','confirm','AMD EPYC',2,NULL,11.416015625,NULL);
INSERT INTO "sample" VALUES(90,'1.2','time_ms','candidate',4,0,1.314,'vm','2026-12-03 19:13:31.937489','confirm','AMD EPYC',2,NULL,11.54296875,NULL);
INSERT INTO "sample" VALUES(91,'1.2','time_ms','parent',5,0,122.385,'vm','2026-12-03 19:13:32.792174','confirm','AMD EPYC',2,NULL,11.54296875,NULL);
INSERT INTO "sample" VALUES(92,'1.2','time_ms','candidate',5,0,1.359,'vm','2026-12-03 19:13:33.193154','confirm','AMD EPYC',2,NULL,11.54296875,NULL);
INSERT INTO "sample" VALUES(93,'1.2','time_ms','candidate',0,0,1.947,'vm','2026-12-03 19:13:33.628685','confirm-verify','AMD EPYC',2,NULL,11.54296875,NULL);
INSERT INTO "sample" VALUES(94,'1.2','time_ms','parent',0,0,70.394,'vm','2026-12-03 19:13:34.237521','confirm-verify','AMD EPYC',2,NULL,11.54296875,NULL);
INSERT INTO "sample" VALUES(95,'1.2','time_ms','candidate',1,0,1.201,'vm','2026-12-03 19:13:34.616839','confirm-verify','AMD EPYC',2,NULL,11.54296875,NULL);
INSERT INTO "sample" VALUES(96,'1.2','time_ms','parent',1,0,101.846,'vm','2026-12-03 19:13:35.313545','confirm-verify','AMD EPYC',2,NULL,11.54296875,NULL);
INSERT INTO "sample" VALUES(97,'1.2','time_ms','candidate',2,0,1.191,'vm','2026-12-03 19:13:35.728532','confirm-verify','AMD EPYC',2,NULL,11.54296875,NULL);
INSERT INTO "sample" VALUES(98,'1.2','time_ms','parent',2,0,78.516,'vm','2026-12-03 19:13:36.333020','confirm-verify','AMD EPYC',2,NULL,11.54296875,NULL);
INSERT INTO "sample" VALUES(99,'1.2','time_ms','candidate',3,0,1.982,'vm','2026-12-03 19:13:36.718468','confirm-verify','AMD EPYC',2,NULL,11.54296875,NULL);
INSERT INTO "sample" VALUES(100,'1.2','time_ms','parent',3,0,73.318,'vm','2026-12-03 19:13:37.245405','confirm-verify','AMD EPYC',2,NULL,11.4990234375,NULL);
INSERT INTO "sample" VALUES(101,'1.2','time_ms','parent',4,0,109.137,'vm','2026-12-03 19:13:38.058979','confirm-verify','AMD EPYC',2,NULL,11.4990234375,NULL);
INSERT INTO "sample" VALUES(102,'1.2','time_ms','candidate',4,0,1.201,'vm','2026-12-03 19:13:38.853880','confirm-verify','AMD EPYC',2,NULL,11.4990234375,NULL);
INSERT INTO "sample" VALUES(103,'1.2','time_ms','parent',5,0,104.503,'vm','2026-12-03 19:13:39.769152','confirm-verify','AMD EPYC',2,NULL,11.4990234375,NULL);
INSERT INTO "sample" VALUES(104,'1.2','time_ms','candidate',5,0,2.498,'vm','2026-12-03 19:13:40.449565','confirm-verify','AMD EPYC',2,NULL,11.4990234375,NULL);
CREATE INDEX ix_command_status ON command (status);
CREATE INDEX ix_run_status ON run (status);
CREATE INDEX ix_event_run_id ON event (run_id);
CREATE INDEX ix_node_diff_hash ON node (diff_hash);
CREATE INDEX ix_node_parent_id ON node (parent_id);
CREATE INDEX ix_node_run_id ON node (run_id);
CREATE INDEX ix_node_status ON node (status);
CREATE INDEX ix_artifact_node_id ON artifact (node_id);
CREATE INDEX ix_modelcall_node_id ON modelcall (node_id);
CREATE INDEX ix_modelcall_run_id ON modelcall (run_id);
CREATE INDEX ix_sample_node_id ON sample (node_id);
CREATE INDEX ix_calibration_run_id ON calibration (run_id);
COMMIT;
