# Types for the compiled build of sentiment.py (Cython "augmenting .pxd": setup.py compiles the
# .py as it is, and this file gives its module functions C signatures and typed locals).
# Only the build reads it; the .py stays the reference and the fallback.
import cython

cpdef list _words_and_emoticons(list raw)

cdef bint _negated(str word)

@cython.locals(n=Py_ssize_t, i=Py_ssize_t, low=str)
cpdef list _word_valences(dict lexicon, list words, list lower, bint is_cap_diff, bint has_nt)

@cython.locals(low=str, base=double, valence=double, s=double, start_i=Py_ssize_t, j=Py_ssize_t)
cdef double _word_valence(dict lexicon, list words, list lower, Py_ssize_t i, Py_ssize_t n,
                          bint is_cap_diff, bint has_nt) except? -999.0

@cython.locals(scalar=object)
cdef double _booster(str word, str low, double valence, bint is_cap_diff) except? -999.0

@cython.locals(value=double)
cpdef double _normalize(double score, double alpha=*)

cdef double _negation_check(double valence, list lower, Py_ssize_t start_i, Py_ssize_t i) except? -999.0

cdef double _special_idioms_check(double valence, list lower, Py_ssize_t i) except? -999.0

cdef double _least_check(double valence, list lower, Py_ssize_t i, dict lexicon) except? -999.0
