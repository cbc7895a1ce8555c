# cython: language_level=3, boundscheck=False, wraparound=False
"""Character scans in C for the compiled build (issue #16): VADER's tokens in one pass over the
text (``sentiment._tokens``, ``sentiment._is_cap_diff``) and the letter counts of the language
guess (``language._letter_counts``). Each has its pure-Python reference in the module named.

The reference is ``sentiment.py``: ``text.split()``, then edge punctuation stripped from each
token unless that leaves two characters or fewer, then each word lowercased. Here the text is
scanned once; a token that needs no stripping is its own word, and an ASCII word without capitals
is its own lowercase (no new string); anything non-ASCII is lowercased by ``str.lower`` itself.
Equal results, to the character (tests/test_compiled.py).
"""

from cpython.unicode cimport Py_UNICODE_ISALPHA, Py_UNICODE_ISSPACE


cdef extern from "Python.h":
    # The text's characters read straight from its buffer (PyUnicode_READ is a macro; indexing a
    # str from Cython calls a function per character).
    int PyUnicode_KIND(object text)
    void* PyUnicode_DATA(object text)
    Py_UCS4 PyUnicode_READ(int kind, void* data, Py_ssize_t index) nogil

# string.punctuation, as VADER strips it
cdef inline bint _punct(Py_UCS4 ch) noexcept:
    return (33 <= ch <= 47) or (58 <= ch <= 64) or (91 <= ch <= 96) or (123 <= ch <= 126)


cdef inline bint _has_capital(int kind, void* data, Py_ssize_t start, Py_ssize_t end) noexcept:
    cdef Py_ssize_t k
    cdef Py_UCS4 ch
    for k in range(start, end):
        ch = PyUnicode_READ(kind, data, k)
        if 65 <= ch <= 90:
            return True
    return False


def tokens(str text):
    """(raw, words, lower): the whitespace-split tokens, VADER's words, and those lowercased."""
    cdef list raw = []
    cdef list words = []
    cdef list lower = []
    cdef Py_ssize_t n = len(text)
    cdef Py_ssize_t i = 0, start, end, first, last
    cdef Py_UCS4 ch, top
    cdef str token, word
    cdef int kind = PyUnicode_KIND(text)
    cdef void* data = PyUnicode_DATA(text)
    while i < n:
        ch = PyUnicode_READ(kind, data, i)
        if Py_UNICODE_ISSPACE(ch):
            i += 1
            continue
        start = i
        top = 0
        while i < n:
            ch = PyUnicode_READ(kind, data, i)
            if Py_UNICODE_ISSPACE(ch):
                break
            if ch > top:
                top = ch
            i += 1
        end = i
        token = text[start:end]
        first, last = start, end
        while first < last and _punct(PyUnicode_READ(kind, data, first)):
            first += 1
        while last > first and _punct(PyUnicode_READ(kind, data, last - 1)):
            last -= 1
        if last - first <= 2 or (first == start and last == end):
            word = token
            first, last = start, end
        else:
            word = text[first:last]
        raw.append(token)
        words.append(word)
        if top < 128 and not _has_capital(kind, data, first, last):
            lower.append(word)
        else:
            lower.append(word.lower())
    return raw, words, lower


def is_cap_diff(list words):
    """VADER's allcap_differential: some but not all words are ALL CAPS."""
    cdef Py_ssize_t caps = 0, n = len(words)
    cdef str word
    for word in words:
        if word.isupper():
            caps += 1
    return 0 < n - caps < n


def letter_counts(str text):
    """(letters, letters above U+024F, i.e. beyond the Latin alphabets): ``str.isalpha`` per character."""
    cdef Py_ssize_t letters = 0, non_latin = 0, i, n = len(text)
    cdef int kind = PyUnicode_KIND(text)
    cdef void* data = PyUnicode_DATA(text)
    cdef Py_UCS4 ch
    for i in range(n):
        ch = PyUnicode_READ(kind, data, i)
        if Py_UNICODE_ISALPHA(ch):
            letters += 1
            if ch > 0x024F:
                non_latin += 1
    return letters, non_latin


cdef extern from "Python.h":
    bint Py_UNICODE_ISALNUM(Py_UCS4 ch)


cdef inline bint _word_char(Py_UCS4 ch) noexcept:
    # the regex module's \w for str patterns
    return ch == 95 or Py_UNICODE_ISALNUM(ch)


cdef inline bint _name_ends(int kind, void* data, Py_ssize_t n, Py_ssize_t j) noexcept:
    # (?=(?:['’]s)?(?!\w)): a possessive may follow, then no word character
    cdef Py_UCS4 ch
    if j + 1 < n:
        ch = PyUnicode_READ(kind, data, j)
        if (ch == 39 or ch == 0x2019) and PyUnicode_READ(kind, data, j + 1) == 115:
            if j + 2 >= n or not _word_char(PyUnicode_READ(kind, data, j + 2)):
                return True
    return j >= n or not _word_char(PyUnicode_READ(kind, data, j))


def name_spans(str text, object trie, object pattern):
    """(start, end) of each name of ``trie`` found in ``text``, as ``matching.Matcher``'s alias regex
    (``pattern``, used instead where there is no trie) finds them with ``finditer``: not after a word character or '@', the longest name that ends
    where no word character follows (a possessive may), a space in a name matching any run of
    whitespace, each search going on after the previous name. ``trie``: one dict per character,
    "" marking where a name ends (``matching._name_trie``)."""
    cdef list spans = []
    cdef Py_ssize_t n = len(text)
    cdef int kind = PyUnicode_KIND(text)
    cdef void* data = PyUnicode_DATA(text)
    cdef Py_ssize_t i = 0, j, best
    cdef Py_UCS4 ch
    cdef object node, child
    if trie is None:
        return [m.span() for m in pattern.finditer(text)]
    while i < n:
        if i > 0:
            ch = PyUnicode_READ(kind, data, i - 1)
            if ch == 64 or _word_char(ch):
                i += 1
                continue
        node = trie
        j = i
        best = -1
        while j < n:
            ch = PyUnicode_READ(kind, data, j)
            if Py_UNICODE_ISSPACE(ch):
                child = (<dict>node).get(" ")
                if child is None:
                    break
                while j < n and Py_UNICODE_ISSPACE(PyUnicode_READ(kind, data, j)):
                    j += 1
            else:
                child = (<dict>node).get(chr(ch))
                if child is None:
                    break
                j += 1
            node = child
            if "" in <dict>node and _name_ends(kind, data, n, j):
                best = j
        if best > i:
            spans.append((i, best))
            i = best
        else:
            i += 1
    return spans


# --- the words of a post (monitor/words.py post_words), for ASCII texts -------------------------

cdef inline bint _ascii_letter(Py_UCS4 ch) noexcept:
    return (97 <= ch <= 122) or (65 <= ch <= 90)


cdef inline bint _ascii_word(Py_UCS4 ch) noexcept:
    return _ascii_letter(ch) or (48 <= ch <= 57) or ch == 95


cdef inline bint _re2_space(Py_UCS4 ch) noexcept:
    # RE2's \s: the five ASCII spaces (\v is not one)
    return ch == 32 or ch == 9 or ch == 10 or ch == 12 or ch == 13


cdef Py_ssize_t _link_or_handle_end(str text, int kind, void* data, Py_ssize_t n, Py_ssize_t p):
    """The end of the link or @handle/#hashtag (words.LINKS_AND_HANDLES_REGEX) that starts at p, or p."""
    cdef Py_UCS4 ch = PyUnicode_READ(kind, data, p)
    cdef Py_ssize_t q = -1
    if ch == 104:  # 'h'
        if text.startswith("https://", p):
            q = p + 8
        elif text.startswith("http://", p):
            q = p + 7
    elif ch == 119 and text.startswith("www.", p):
        q = p + 4
    if 0 <= q < n and not _re2_space(PyUnicode_READ(kind, data, q)):  # \S+: one character at least
        while q < n and not _re2_space(PyUnicode_READ(kind, data, q)):
            q += 1
        return q
    if (ch == 64 or ch == 35) and p + 1 < n and _ascii_word(PyUnicode_READ(kind, data, p + 1)):
        q = p + 1
        while q < n and _ascii_word(PyUnicode_READ(kind, data, q)):
            q += 1
        return q
    return p


def ascii_post_words(str lowered):
    """``words.post_words`` of an ASCII text, given it lowercased: (hashtags, terms), each distinct,
    in order of first use. Hashtags: '#' and a run of word characters holding a letter; terms: runs
    of 3+ letters outside links, @handles and hashtags."""
    cdef int kind = PyUnicode_KIND(lowered)
    cdef void* data = PyUnicode_DATA(lowered)
    cdef Py_ssize_t n = len(lowered)
    cdef Py_ssize_t i = 0, j, start = -1
    cdef bint letter
    cdef list hashtags = [], terms = []
    cdef set seen_tags = set(), seen_terms = set()
    cdef str word
    while i < n:  # hashtags, over the whole text
        if PyUnicode_READ(kind, data, i) == 35:
            j = i + 1
            letter = False
            while j < n and _ascii_word(PyUnicode_READ(kind, data, j)):
                letter = letter or _ascii_letter(PyUnicode_READ(kind, data, j))
                j += 1
            if letter:
                word = lowered[i + 1:j]
                if word not in seen_tags:
                    seen_tags.add(word)
                    hashtags.append(word)
                i = j
                continue
        i += 1
    i = 0
    while i <= n:  # terms, with links and handles skipped (a run of letters ends at one)
        j = _link_or_handle_end(lowered, kind, data, n, i) if i < n else i
        if i < n and j == i and _ascii_letter(PyUnicode_READ(kind, data, i)):
            if start < 0:
                start = i
            i += 1
            continue
        if start >= 0 and i - start >= 3:
            word = lowered[start:i]
            if word not in seen_terms:
                seen_terms.add(word)
                terms.append(word)
        start = -1
        i = j if j > i else i + 1
    return hashtags, terms
