"""The scripted answers of the real-repository runs (tests/test_real_repos.py).

For each target: a speed-up verified by hand, a no-op, a change that breaks
their tests, and an edit outside the writable paths, in that order. The last
three edit code the speed-up leaves alone, so they apply whichever node is the
parent.
"""

from __future__ import annotations

# --- base58 2.1.1 (PyPI sdist) ---------------------------------------------
# b58encode_int prepends one byte at a time (a new bytes object per digit);
# emitting two digits per divmod from a table of digit pairs and joining once
# measured about 45% less time per 8-byte encode by hand (timeit, 200 random
# inputs of 8 to 1024 bytes identical to the original's output).

BASE58_SPEEDUP = '''
DESCRIPTION: Emit two base58 digits per divmod from a table of digit pairs
RATIONALE: b58encode_int builds its result by prepending one byte per digit,
a new bytes object each time; dividing by base**2 halves the divmods and a
list joined once replaces the repeated copies.
base58/__init__.py
<<<<<<< SEARCH
def b58encode_int(
    i: int, default_one: bool = True, alphabet: bytes = BITCOIN_ALPHABET
) -> bytes:
    """
    Encode an integer using Base58
    """
    if not i and default_one:
        return alphabet[0:1]
    string = b""
    base = len(alphabet)
    while i:
        i, idx = divmod(i, base)
        string = alphabet[idx:idx+1] + string
    return string
=======
@lru_cache()
def _digit_pairs(alphabet: bytes) -> list:
    return [bytes((high, low)) for high in alphabet for low in alphabet]


def b58encode_int(
    i: int, default_one: bool = True, alphabet: bytes = BITCOIN_ALPHABET
) -> bytes:
    """
    Encode an integer using Base58
    """
    if not i and default_one:
        return alphabet[0:1]
    base = len(alphabet)
    square = base * base
    pairs = _digit_pairs(alphabet)
    parts = []
    while i >= square:
        i, idx = divmod(i, square)
        parts.append(pairs[idx])
    if i >= base:
        parts.append(pairs[i])
    elif i:
        parts.append(alphabet[i:i+1])
    parts.reverse()
    return b"".join(parts)
>>>>>>> REPLACE
'''

BASE58_NOOP = """
DESCRIPTION: Name the decoded accumulator value
RATIONALE: `decimal` is not a decimal; the loop and its speed stay the same.
base58/__init__.py
<<<<<<< SEARCH
    decimal = 0
    base = len(alphabet)
    try:
        for char in v:
            decimal = decimal * base + map[char]
    except KeyError as e:
        raise ValueError(
            "Invalid character {!r}".format(chr(e.args[0]))
        ) from None
    return decimal
=======
    value = 0
    base = len(alphabet)
    try:
        for char in v:
            value = value * base + map[char]
    except KeyError as e:
        raise ValueError(
            "Invalid character {!r}".format(chr(e.args[0]))
        ) from None
    return value
>>>>>>> REPLACE
"""

BASE58_BREAK = """
DESCRIPTION: Skip the leading-zero prefix in b58encode
RATIONALE: Faster, but leading zero bytes are lost (their tests catch it).
base58/__init__.py
<<<<<<< SEARCH
    result = b58encode_int(acc, default_one=False, alphabet=alphabet)
    return alphabet[0:1] * (origlen - newlen) + result
=======
    return b58encode_int(acc, default_one=False, alphabet=alphabet)
>>>>>>> REPLACE
"""

BASE58_OUTSIDE = """
DESCRIPTION: Note the speed in the README
RATIONALE: README.md is not a writable path; the edit must be refused.
README.md
<<<<<<< SEARCH
# base58
=======
# base58 (fast)
>>>>>>> REPLACE
"""

# --- github.com/ryanuber/go-glob 1.0.0 (Debian golang-github-ryanuber-go-glob-dev) ---
# Glob splits the pattern into a new slice on every call (1 alloc, 64 B/op);
# walking the pattern with strings.Index allocates nothing and measured about
# half the ns/op of BenchmarkGlob by hand (go test -bench -count 5), tests green.

GOGLOB_SPEEDUP = """
DESCRIPTION: Walk the pattern's parts in place instead of splitting it
RATIONALE: strings.Split allocates a slice of parts on every call; finding
each `*` with strings.Index reads the same parts with no allocation.
glob.go
<<<<<<< SEARCH
	parts := strings.Split(pattern, GLOB)

	if len(parts) == 1 {
		// No globs in pattern, so test for equality
		return subj == pattern
	}

	leadingGlob := strings.HasPrefix(pattern, GLOB)
	trailingGlob := strings.HasSuffix(pattern, GLOB)
	end := len(parts) - 1

	// Go over the leading parts and ensure they match.
	for i := 0; i < end; i++ {
		idx := strings.Index(subj, parts[i])

		switch i {
		case 0:
			// Check the first section. Requires special handling.
			if !leadingGlob && idx != 0 {
				return false
			}
		default:
			// Check that the middle parts match.
			if idx < 0 {
				return false
			}
		}

		// Trim evaluated text from subj as we loop over the pattern.
		subj = subj[idx+len(parts[i]):]
	}

	// Reached the last section. Requires special handling.
	return trailingGlob || strings.HasSuffix(subj, parts[end])
=======
	// Walk the pattern's parts in place: no slice of parts is allocated.
	cut := strings.Index(pattern, GLOB)
	if cut < 0 {
		// No globs in pattern, so test for equality
		return subj == pattern
	}

	trailingGlob := strings.HasSuffix(pattern, GLOB)

	// Check the first section. Requires special handling.
	if !strings.HasPrefix(subj, pattern[:cut]) {
		return false
	}
	subj = subj[cut:]
	rest := pattern[cut+len(GLOB):]

	// Check that the middle parts match, trimming subj as we go.
	for {
		cut = strings.Index(rest, GLOB)
		if cut < 0 {
			break
		}
		idx := strings.Index(subj, rest[:cut])
		if idx < 0 {
			return false
		}
		subj = subj[idx+cut:]
		rest = rest[cut+len(GLOB):]
	}

	// Reached the last section. Requires special handling.
	return trailingGlob || strings.HasSuffix(subj, rest)
>>>>>>> REPLACE
"""

GOGLOB_NOOP = """
DESCRIPTION: Compare an empty pattern's subject with the empty string
RATIONALE: pattern is "" there, so this is the same test, spelled out.
glob.go
<<<<<<< SEARCH
	if pattern == "" {
		return subj == pattern
	}
=======
	if pattern == "" {
		return subj == ""
	}
>>>>>>> REPLACE
"""

GOGLOB_BREAK = """
DESCRIPTION: Answer a lone glob without looking at it
RATIONALE: Returns false for "*", which must match everything (their tests fail).
glob.go
<<<<<<< SEARCH
	if pattern == GLOB {
		return true
	}
=======
	if pattern == GLOB {
		return false
	}
>>>>>>> REPLACE
"""

GOGLOB_OUTSIDE = """
DESCRIPTION: Raise the module's language version
RATIONALE: go.mod is not a writable path; the edit must be refused.
go.mod
<<<<<<< SEARCH
module github.com/ryanuber/go-glob
=======
module github.com/ryanuber/go-glob

go 1.19
>>>>>>> REPLACE
"""


def answer_file(*answers: str) -> str:
    """The answers as a scripted backend's TOML file."""
    tables = []
    for text in answers:
        assert "'''" not in text
        tables.append(f"[[answer]]\ntext = '''{text}'''\n")
    return "\n".join(tables)
