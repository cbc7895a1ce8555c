/* The prefilter's trigger scan in C (issue #16): an Aho-Corasick automaton over case-folded bytes,
 * built in Python by monitor/analysis/prefilter.py (automaton), run over a chunk of raw JSON Lines.
 *
 * Why C: the scan touches every byte of a dump (GBs); one table lookup a byte runs at ~1 GB/s,
 * where the stdlib `re` over the same chunk, or bytes.find once per needle, was several times
 * slower with the default config's ~100 needles. Everything else (which clauses a line really
 * satisfies) stays in Python, on the few lines that triggered: prefilter.py's pure path gives
 * the same lines without this module.
 *
 * Scanner(delta, out_start, out_end, out_ids, needles, offsets).lines(chunk) -> [(start, end)]:
 * the lines holding a trigger (case-sensitive needles compared exactly), end = offset of the
 * line's '\n' or len(chunk). After a hit the scan jumps to the next line: one hit a line is enough.
 */
#define PY_SSIZE_T_CLEAN
#define _GNU_SOURCE
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define CASE_SENSITIVE (1 << 30)

typedef struct {
    PyObject_HEAD
    PyObject *owned[6];       /* the bytes objects the pointers below point into */
    const int32_t *delta;     /* n_states x 256 */
    const int32_t *out_start; /* per state */
    const int32_t *out_end;
    const int32_t *out_ids;
    const char *needles;
    const int32_t *offsets;   /* (start, length | CASE_SENSITIVE) per needle */
    Py_ssize_t n_states, n_ids, n_needles, needles_len;
} Scanner;

static void Scanner_dealloc(Scanner *self) {
    for (int i = 0; i < 6; i++) Py_XDECREF(self->owned[i]);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int check_ints(PyObject *obj, const char *what, Py_ssize_t *count) {
    if (!PyBytes_Check(obj) || PyBytes_GET_SIZE(obj) % 4) {
        PyErr_Format(PyExc_ValueError, "%s: expected bytes of int32", what);
        return -1;
    }
    *count = PyBytes_GET_SIZE(obj) / 4;
    return 0;
}

static int Scanner_init(Scanner *self, PyObject *args, PyObject *Py_UNUSED(kwds)) {
    PyObject *o[6];
    Py_ssize_t n_delta, n_start, n_end, n_offsets;
    if (!PyArg_ParseTuple(args, "SSSSSS", &o[0], &o[1], &o[2], &o[3], &o[4], &o[5])) return -1;
    if (check_ints(o[0], "delta", &n_delta) || check_ints(o[1], "out_start", &n_start) ||
        check_ints(o[2], "out_end", &n_end) || check_ints(o[3], "out_ids", &self->n_ids) ||
        check_ints(o[5], "offsets", &n_offsets)) return -1;
    self->n_states = n_start;
    self->n_needles = n_offsets / 2;
    self->needles_len = PyBytes_GET_SIZE(o[4]);
    if (n_delta != n_start * 256 || n_end != n_start || n_start == 0 || n_offsets % 2) {
        PyErr_SetString(PyExc_ValueError, "automaton tables of inconsistent sizes");
        return -1;
    }
    self->delta = (const int32_t *)PyBytes_AS_STRING(o[0]);
    self->out_start = (const int32_t *)PyBytes_AS_STRING(o[1]);
    self->out_end = (const int32_t *)PyBytes_AS_STRING(o[2]);
    self->out_ids = (const int32_t *)PyBytes_AS_STRING(o[3]);
    self->needles = PyBytes_AS_STRING(o[4]);
    self->offsets = (const int32_t *)PyBytes_AS_STRING(o[5]);
    /* Validate every index once, so the scan loop needs no bounds checks. */
    for (Py_ssize_t i = 0; i < n_delta; i++)
        if (self->delta[i] < 0 || self->delta[i] >= n_start) goto bad;
    for (Py_ssize_t s = 0; s < n_start; s++)
        if (self->out_start[s] < 0 || self->out_start[s] > self->out_end[s] || self->out_end[s] > self->n_ids) goto bad;
    for (Py_ssize_t i = 0; i < self->n_ids; i++)
        if (self->out_ids[i] < 0 || self->out_ids[i] >= self->n_needles) goto bad;
    for (Py_ssize_t i = 0; i < self->n_needles; i++) {
        int32_t start = self->offsets[2 * i], length = self->offsets[2 * i + 1] & ~CASE_SENSITIVE;
        if (start < 0 || length <= 0 || start + length > self->needles_len) goto bad;
    }
    for (int i = 0; i < 6; i++) { Py_XDECREF(self->owned[i]); Py_INCREF(o[i]); self->owned[i] = o[i]; }
    return 0;
bad:
    PyErr_SetString(PyExc_ValueError, "automaton index out of range");
    return -1;
}

/* Does a needle ending at p[at] really match? Case-insensitive ones always do (the automaton
 * matched their folded bytes); case-sensitive ones are compared as written. */
static int state_hits(const Scanner *self, int32_t state, const char *p, Py_ssize_t at) {
    for (int32_t k = self->out_start[state]; k < self->out_end[state]; k++) {
        int32_t id = self->out_ids[k];
        int32_t start = self->offsets[2 * id], word = self->offsets[2 * id + 1];
        int32_t length = word & ~CASE_SENSITIVE;
        if (!(word & CASE_SENSITIVE)) return 1;
        if (length <= at + 1 && memcmp(p + at + 1 - length, self->needles + start, (size_t)length) == 0) return 1;
    }
    return 0;
}

static PyObject *Scanner_lines(Scanner *self, PyObject *arg) {
    Py_buffer view;
    if (self->delta == NULL) {
        PyErr_SetString(PyExc_ValueError, "Scanner not initialised");
        return NULL;
    }
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) return NULL;
    const char *p = (const char *)view.buf;
    const unsigned char *u = (const unsigned char *)view.buf;
    Py_ssize_t n = view.len, i = 0;
    PyObject *found = PyList_New(0);
    if (found == NULL) goto done;
    int32_t state = 0;
    while (i < n) {
        state = self->delta[((Py_ssize_t)state << 8) | u[i]];
        if (self->out_start[state] == self->out_end[state] || !state_hits(self, state, p, i)) {
            i++;
            continue;
        }
        const char *back = memrchr(p, '\n', (size_t)i);
        Py_ssize_t start = back ? back - p + 1 : 0;
        const char *next = memchr(p + i, '\n', (size_t)(n - i));
        Py_ssize_t end = next ? next - p : n;
        PyObject *pair = Py_BuildValue("(nn)", start, end);
        if (pair == NULL || PyList_Append(found, pair) < 0) {
            Py_XDECREF(pair);
            Py_CLEAR(found);
            goto done;
        }
        Py_DECREF(pair);
        i = end + 1;
        state = 0;
    }
done:
    PyBuffer_Release(&view);
    return found;
}

static PyMethodDef Scanner_methods[] = {
    {"lines", (PyCFunction)Scanner_lines, METH_O, "(start, end) of each line of a chunk holding a trigger."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject ScannerType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "monitor.analysis._prefilter_scan.Scanner",
    .tp_basicsize = sizeof(Scanner),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Aho-Corasick trigger scan over case-folded bytes (see prefilter.automaton).",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Scanner_init,
    .tp_dealloc = (destructor)Scanner_dealloc,
    .tp_methods = Scanner_methods,
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, .m_name = "_prefilter_scan", .m_size = -1};

PyMODINIT_FUNC PyInit__prefilter_scan(void) {
    if (PyType_Ready(&ScannerType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    Py_INCREF(&ScannerType);
    if (PyModule_AddObject(m, "Scanner", (PyObject *)&ScannerType) < 0) {
        Py_DECREF(&ScannerType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
