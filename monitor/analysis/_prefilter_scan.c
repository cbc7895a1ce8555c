/* The prefilter's trigger scan in C (issue #16): an Aho-Corasick automaton over case-folded byte
 * classes, built in Python by monitor/analysis/prefilter.py (automaton), run over a chunk of raw
 * JSON Lines.
 *
 * Why C: the scan touches every byte of a dump (GBs). The stdlib `re` over a chunk, or bytes.find
 * once per needle, was several times slower with the default config's ~100 needles; here it is
 * one small-table lookup a byte (~40 classes, so the table stays in cache; an accepting state is
 * stored as ~state, so the common case is one load and one sign test). Which clauses a line
 * really satisfies stays in Python, on the few lines that triggered: prefilter.py's pure path
 * returns the same (line, triggers) without this module.
 *
 * Scanner(classes, delta, out_start, out_end, out_ids, needles, offsets).lines(chunk)
 *   -> [(start, end, (trigger index, ...))] for each line holding a trigger (case-sensitive
 *   needles compared as written); end = offset of the line's '\n' or len(chunk).
 */
#define PY_SSIZE_T_CLEAN
#define _GNU_SOURCE
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define CASE_SENSITIVE (1 << 30)
#define TABLES 7

typedef struct {
    PyObject_HEAD
    PyObject *owned[TABLES];  /* the bytes objects the pointers below point into */
    const unsigned char *classes; /* 256 */
    const int32_t *delta;     /* n_states x width; ~t for an accepting state t */
    int32_t *rows;            /* delta with each state t as its row's offset t * width (~ when accepting):
                                 the scan then adds instead of multiplying, a shorter chain a byte */
    const int32_t *out_start; /* per state */
    const int32_t *out_end;
    const int32_t *out_ids;
    const char *needles;
    const int32_t *offsets;   /* (start, length | CASE_SENSITIVE) per needle */
    Py_ssize_t n_states, width, n_ids, n_needles, needles_len;
} Scanner;

static void Scanner_dealloc(Scanner *self) {
    PyMem_Free(self->rows);
    for (int i = 0; i < TABLES; i++) Py_XDECREF(self->owned[i]);
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

/* Every index the scan follows is checked once here, so the scan loop needs no bounds checks. */
static int tables_valid(Scanner *self, Py_ssize_t n_delta) {
    for (int b = 0; b < 256; b++)
        if (self->classes[b] >= self->width) return 0;
    for (Py_ssize_t i = 0; i < n_delta; i++) {
        int32_t t = self->delta[i] < 0 ? ~self->delta[i] : self->delta[i];
        if (t >= self->n_states) return 0;
    }
    for (Py_ssize_t s = 0; s < self->n_states; s++)
        if (self->out_start[s] < 0 || self->out_start[s] > self->out_end[s] || self->out_end[s] > self->n_ids)
            return 0;
    for (Py_ssize_t i = 0; i < self->n_ids; i++)
        if (self->out_ids[i] < 0 || self->out_ids[i] >= self->n_needles) return 0;
    for (Py_ssize_t i = 0; i < self->n_needles; i++) {
        int32_t start = self->offsets[2 * i], length = self->offsets[2 * i + 1] & ~CASE_SENSITIVE;
        if (start < 0 || length <= 0 || start + length > self->needles_len) return 0;
    }
    return 1;
}

static int Scanner_init(Scanner *self, PyObject *args, PyObject *Py_UNUSED(kwds)) {
    PyObject *o[TABLES];
    Py_ssize_t n_delta, n_start, n_end, n_offsets;
    if (!PyArg_ParseTuple(args, "SSSSSSS", &o[0], &o[1], &o[2], &o[3], &o[4], &o[5], &o[6])) return -1;
    if (PyBytes_GET_SIZE(o[0]) != 256) {
        PyErr_SetString(PyExc_ValueError, "classes: expected 256 bytes");
        return -1;
    }
    if (check_ints(o[1], "delta", &n_delta) || check_ints(o[2], "out_start", &n_start) ||
        check_ints(o[3], "out_end", &n_end) || check_ints(o[4], "out_ids", &self->n_ids) ||
        check_ints(o[6], "offsets", &n_offsets)) return -1;
    if (n_start == 0 || n_end != n_start || n_delta % n_start || n_offsets % 2) {
        PyErr_SetString(PyExc_ValueError, "automaton tables of inconsistent sizes");
        return -1;
    }
    self->classes = (const unsigned char *)PyBytes_AS_STRING(o[0]);
    self->delta = (const int32_t *)PyBytes_AS_STRING(o[1]);
    self->out_start = (const int32_t *)PyBytes_AS_STRING(o[2]);
    self->out_end = (const int32_t *)PyBytes_AS_STRING(o[3]);
    self->out_ids = (const int32_t *)PyBytes_AS_STRING(o[4]);
    self->needles = PyBytes_AS_STRING(o[5]);
    self->offsets = (const int32_t *)PyBytes_AS_STRING(o[6]);
    self->n_states = n_start;
    self->width = n_delta / n_start;
    self->n_needles = n_offsets / 2;
    self->needles_len = PyBytes_GET_SIZE(o[5]);
    if (!tables_valid(self, n_delta)) {
        self->delta = NULL;
        PyErr_SetString(PyExc_ValueError, "automaton index out of range");
        return -1;
    }
    if (self->n_states > INT32_MAX / self->width) {
        self->delta = NULL;
        PyErr_SetString(PyExc_ValueError, "automaton too large");
        return -1;
    }
    PyMem_Free(self->rows);
    self->rows = PyMem_Malloc((size_t)n_delta * sizeof(int32_t));
    if (self->rows == NULL) {
        self->delta = NULL;
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < n_delta; i++) {
        int32_t t = self->delta[i];
        self->rows[i] = t < 0 ? ~(int32_t)(~t * self->width) : (int32_t)(t * self->width);
    }
    for (int i = 0; i < TABLES; i++) { Py_XDECREF(self->owned[i]); Py_INCREF(o[i]); self->owned[i] = o[i]; }
    return 0;
}

/* What a scan found, gathered without the GIL: per line (start, end, number of triggers, trigger
 * indexes...), flat in a growing array of Py_ssize_t. */
typedef struct {
    Py_ssize_t *items;
    Py_ssize_t size, capacity;
} Found;

static int push(Found *found, Py_ssize_t value) {
    if (found->size == found->capacity) {
        Py_ssize_t capacity = found->capacity ? found->capacity * 2 : 1024;
        Py_ssize_t *grown = PyMem_RawRealloc(found->items, (size_t)capacity * sizeof(Py_ssize_t));
        if (grown == NULL) return -1;
        found->items = grown;
        found->capacity = capacity;
    }
    found->items[found->size++] = value;
    return 0;
}

/* Appends the needles that really end at p[at] in `state` (once each a line: `seen` holds the
 * line's stamp): case-insensitive ones always (the automaton matched their folded bytes),
 * case-sensitive ones when the bytes are as written. Returns how many, or -1 (no memory). */
static Py_ssize_t collect(const Scanner *self, int32_t state, const char *p, Py_ssize_t at, Py_ssize_t *seen,
                          Py_ssize_t stamp, Found *found) {
    Py_ssize_t added = 0;
    for (int32_t k = self->out_start[state]; k < self->out_end[state]; k++) {
        int32_t id = self->out_ids[k];
        int32_t start = self->offsets[2 * id], word = self->offsets[2 * id + 1];
        int32_t length = word & ~CASE_SENSITIVE;
        if (seen[id] == stamp) continue;
        if ((word & CASE_SENSITIVE) &&
            (length > at + 1 || memcmp(p + at + 1 - length, self->needles + start, (size_t)length) != 0))
            continue;
        seen[id] = stamp;
        if (push(found, id) < 0) return -1;
        added++;
    }
    return added;
}

/* The scan proper, without the GIL. Returns 0, or -1 when out of memory. */
static int scan(const Scanner *self, const unsigned char *u, Py_ssize_t n, Py_ssize_t *seen, Found *found) {
    const char *p = (const char *)u;
    const int32_t *rows = self->rows;
    const unsigned char *classes = self->classes;
    const Py_ssize_t width = self->width;
    Py_ssize_t i = 0, stamp = 0;
    int32_t row = 0, state;  /* row: the state's offset in rows */
    while (i < n) {
        int32_t t = rows[row + classes[u[i]]];
        if (t >= 0) {
            row = t;
            i++;
            continue;
        }
        row = ~t;
        state = (int32_t)(row / width);
        Py_ssize_t header = found->size;  /* start, end, count: filled in below */
        if (push(found, 0) < 0 || push(found, 0) < 0 || push(found, 0) < 0) return -1;
        stamp++;
        Py_ssize_t count = collect(self, state, p, i, seen, stamp, found);
        if (count < 0) return -1;
        if (count == 0) {  /* only a case-sensitive needle in another case */
            found->size = header;
            i++;
            continue;
        }
        const char *back = i ? memrchr(p, '\n', (size_t)i) : NULL;
        const char *next = memchr(p + i, '\n', (size_t)(n - i));
        Py_ssize_t end = next ? next - p : n;
        for (i = i + 1; i < end; i++) {  /* the rest of the line: every trigger in it */
            t = rows[row + classes[u[i]]];
            row = t < 0 ? ~t : t;
            if (t < 0) {
                state = (int32_t)(row / width);
                Py_ssize_t more = collect(self, state, p, i, seen, stamp, found);
                if (more < 0) return -1;
                count += more;
            }
        }
        found->items[header] = back ? back - p + 1 : 0;
        found->items[header + 1] = end;
        found->items[header + 2] = count;
        i = end + 1;
        row = 0;
    }
    return 0;
}

static PyObject *as_list(const Found *found) {
    PyObject *out = PyList_New(0);
    for (Py_ssize_t k = 0; out != NULL && k < found->size;) {
        Py_ssize_t start = found->items[k], end = found->items[k + 1], count = found->items[k + 2];
        PyObject *ids = PyList_New(count);
        for (Py_ssize_t j = 0; ids != NULL && j < count; j++) {
            PyObject *number = PyLong_FromSsize_t(found->items[k + 3 + j]);
            if (number == NULL) Py_CLEAR(ids);
            else PyList_SET_ITEM(ids, j, number);
        }
        PyObject *entry = ids ? Py_BuildValue("(nnN)", start, end, ids) : NULL;  /* steals ids */
        if (entry == NULL || PyList_Append(out, entry) < 0) Py_CLEAR(out);
        Py_XDECREF(entry);
        k += 3 + count;
    }
    return out;
}

static PyObject *Scanner_lines(Scanner *self, PyObject *arg) {
    if (self->delta == NULL) {
        PyErr_SetString(PyExc_ValueError, "Scanner not initialised");
        return NULL;
    }
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) return NULL;
    Py_ssize_t *seen = PyMem_RawCalloc((size_t)self->n_needles + 1, sizeof(Py_ssize_t));
    Found found = {NULL, 0, 0};
    int status = -1;
    if (seen != NULL) {
        /* The GIL is let go: another thread decompresses the next chunk meanwhile. */
        Py_BEGIN_ALLOW_THREADS
        status = scan(self, (const unsigned char *)view.buf, view.len, seen, &found);
        Py_END_ALLOW_THREADS
    }
    PyObject *out = status < 0 ? PyErr_NoMemory() : as_list(&found);
    PyMem_RawFree(seen);
    PyMem_RawFree(found.items);
    PyBuffer_Release(&view);
    return out;
}

static PyMethodDef Scanner_methods[] = {
    {"lines", (PyCFunction)Scanner_lines, METH_O,
     "(start, end, [trigger index, ...]) of each line of a chunk holding a trigger."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject ScannerType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "monitor.analysis._prefilter_scan.Scanner",
    .tp_basicsize = sizeof(Scanner),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Aho-Corasick trigger scan over case-folded byte classes (see prefilter.automaton).",
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
