/* The C ABI (bridge/pybridge.h) from a C99 program: every exported function is called at
 * least once (tests/c/check_abi.sh checks that against the exported symbol list), with
 * real values checked, plus misuse: NULL handles, wrong kinds, out-of-range indices,
 * double waits, use after stop. Run under AddressSanitizer + LeakSanitizer by `make asan`.
 * No torch here (LeakSanitizer and torch's process-lifetime allocations do not mix):
 * examples/c_host runs a real model through the same ABI. */
#define _POSIX_C_SOURCE 200809L /* pipe(), for a call to say it started */

#include <pybridge.h>

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int failures = 0;
#define CHECK(cond)                                                                       \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);      \
            const pyb_error *e_ = pyb_last_error();                                       \
            if (e_) fprintf(stderr, "  last error: [%d] %s: %s\n", (int)pyb_error_status(e_), \
                            pyb_error_type(e_), pyb_error_message(e_));                   \
            ++failures;                                                                   \
        }                                                                                 \
    } while (0)
#define OK(call) CHECK((call) == PYB_OK)

/* A string value's text equals `want`. */
static int str_is(const pyb_value *v, const char *want) {
    const char *data = NULL;
    size_t size = 0;
    return pyb_value_str(v, &data, &size) == PYB_OK && size == strlen(want) && memcmp(data, want, size) == 0;
}

static int last_message_contains(const char *part) {
    const pyb_error *e = pyb_last_error();
    return e && strstr(pyb_error_message(e), part) != NULL;
}

/* ---- host function: adds its int arguments; counts destroys ---- */
static int destroyed = 0;
static pyb_status add_ints(void *user, const pyb_value *const *args, size_t nargs, pyb_value **result) {
    int64_t total = *(int64_t *)user, x = 0;
    for (size_t i = 0; i < nargs; ++i) {
        pyb_status st = pyb_value_int(args[i], &x);
        if (st != PYB_OK) return st; /* the last error (wrong kind) becomes a HostError */
        total += x;
    }
    *result = pyb_int(total);
    return PYB_OK;
}
static void destroy_user(void *user) {
    free(user);
    ++destroyed;
}

/* ---- a host tensor whose deleter counts ---- */
static int tensor_deleted = 0;
typedef struct {
    DLManagedTensorVersioned managed;
    int64_t shape[2];
    float data[6];
} HostTensor;
static void host_tensor_deleter(DLManagedTensorVersioned *self) {
    free(self->manager_ctx);
    ++tensor_deleted;
}
static DLManagedTensorVersioned *new_host_tensor(void) {
    HostTensor *t = calloc(1, sizeof *t);
    t->managed.version.major = DLPACK_MAJOR_VERSION;
    t->managed.version.minor = DLPACK_MINOR_VERSION;
    t->managed.manager_ctx = t;
    t->managed.deleter = host_tensor_deleter;
    t->shape[0] = 2;
    t->shape[1] = 3;
    for (int i = 0; i < 6; ++i) t->data[i] = (float)i * 1.5f;
    t->managed.dl_tensor.data = t->data;
    t->managed.dl_tensor.device.device_type = kDLCPU;
    t->managed.dl_tensor.ndim = 2;
    t->managed.dl_tensor.dtype.code = kDLFloat;
    t->managed.dl_tensor.dtype.bits = 32;
    t->managed.dl_tensor.dtype.lanes = 1;
    t->managed.dl_tensor.shape = t->shape;
    return &t->managed;
}

/* ---- completion callback ---- */
static void on_done(void *user) { *(int *)user += 1; }

static void versions(void) {
    CHECK(strcmp(pyb_version(), "0.1.0") == 0);
    CHECK(pyb_abi_version() == PYB_ABI_VERSION);
}

static void values(void) {
    pyb_value *none = pyb_none(), *b = pyb_bool(1), *i = pyb_int(-42), *f = pyb_float(2.5);
    pyb_value *s = pyb_str("h\xc3\xa9llo", 6), *by = pyb_bytes("\0\1\2", 3), *sym = pyb_symbol("f32");
    CHECK(pyb_value_kind(none) == PYB_KIND_NONE && pyb_value_kind(NULL) == PYB_KIND_NONE);
    int bv = 0;
    int64_t iv = 0;
    double fv = 0;
    OK(pyb_value_bool(b, &bv));
    CHECK(bv == 1);
    OK(pyb_value_int(i, &iv));
    CHECK(iv == -42);
    OK(pyb_value_float(f, &fv));
    CHECK(fv == 2.5);
    OK(pyb_value_float(i, &fv)); /* an int reads as a float */
    CHECK(fv == -42.0);
    CHECK(str_is(s, "h\xc3\xa9llo") && str_is(sym, "f32") && pyb_value_kind(sym) == PYB_KIND_SYMBOL);
    const char *data = NULL;
    size_t size = 0;
    OK(pyb_value_str(by, &data, &size));
    CHECK(size == 3 && data[2] == 2);
    /* wrong kinds and bad input */
    CHECK(pyb_value_int(s, &iv) == PYB_ERROR_KIND && last_message_contains("expected an int, got a str value"));
    CHECK(pyb_value_bool(NULL, &bv) == PYB_ERROR_ARGUMENT && last_message_contains("value is NULL"));
    CHECK(pyb_str("\xff", 1) == NULL && pyb_error_status(pyb_last_error()) == PYB_ERROR_ARGUMENT);
    /* ill-formed UTF-8 Python's decoder refuses: truncated, surrogate, overlong, > U+10FFFF */
    static const char *const ill_formed[] = {"ok\xc3", "\xed\xa0\x80", "\xc0\x80", "\xe0\x80\xaf", "a\xf4\x90\x80\x80"};
    static const size_t bad_at[] = {2, 0, 0, 0, 1};
    for (size_t k = 0; k < sizeof ill_formed / sizeof *ill_formed; ++k) {
        char expect[64];
        snprintf(expect, sizeof expect, "not valid UTF-8 at byte %zu", bad_at[k]);
        CHECK(pyb_str(ill_formed[k], strlen(ill_formed[k])) == NULL && last_message_contains(expect));
        CHECK(pyb_symbol(ill_formed[k]) == NULL && last_message_contains(expect));
    }
    /* the edges that are well-formed: U+07FF, U+D7FF, U+E000, U+10000, U+10FFFF */
    pyb_value *edges = pyb_str("\xdf\xbf\xed\x9f\xbf\xee\x80\x80\xf0\x90\x80\x80\xf4\x8f\xbf\xbf", 16);
    CHECK(edges != NULL);
    pyb_value_free(edges);
    pyb_error_clear();
    CHECK(pyb_last_error() == NULL);

    /* containers */
    pyb_value *list = pyb_list(), *tuple = pyb_tuple(), *dict = pyb_dict();
    OK(pyb_append(list, pyb_int(1)));
    OK(pyb_append(list, pyb_str("two", 3)));
    OK(pyb_append(tuple, pyb_float(3.0)));
    OK(pyb_dict_set(dict, pyb_str("k", 1), pyb_int(7)));
    CHECK(pyb_append(dict, pyb_int(1)) == PYB_ERROR_KIND); /* item consumed even so */
    CHECK(pyb_dict_set(list, pyb_int(1), pyb_int(2)) == PYB_ERROR_KIND);
    /* the same handle twice: refused, nothing consumed (the handles stay usable) */
    CHECK(pyb_append(list, list) == PYB_ERROR_ARGUMENT && last_message_contains("cannot append a value to itself"));
    pyb_value *twice = pyb_int(5);
    CHECK(pyb_dict_set(dict, twice, twice) == PYB_ERROR_ARGUMENT && last_message_contains("three different handles"));
    CHECK(pyb_dict_set(dict, dict, twice) == PYB_ERROR_ARGUMENT);
    CHECK(pyb_dict_set(dict, twice, dict) == PYB_ERROR_ARGUMENT);
    OK(pyb_value_int(twice, &iv));
    CHECK(iv == 5);
    pyb_value_free(twice);
    size_t n = 0;
    OK(pyb_value_len(list, &n));
    CHECK(n == 2);
    pyb_value *item = NULL, *key = NULL;
    OK(pyb_value_item(list, 1, &item));
    CHECK(str_is(item, "two"));
    pyb_value_free(item);
    CHECK(pyb_value_item(list, 2, &item) == PYB_ERROR_ARGUMENT && item == NULL &&
          last_message_contains("index 2 out of range (size 2)"));
    OK(pyb_value_dict_entry(dict, 0, &key, &item));
    CHECK(str_is(key, "k") && pyb_value_int(item, &iv) == PYB_OK && iv == 7);
    pyb_value_free(key);
    pyb_value_free(item);
    pyb_value *copy = pyb_value_copy(tuple);
    CHECK(pyb_value_kind(copy) == PYB_KIND_TUPLE);
    pyb_value_free(copy);

    /* tensors: in (owned), out (a new managed tensor sharing the memory) */
    pyb_value *tensor = NULL;
    OK(pyb_tensor(new_host_tensor(), &tensor));
    CHECK(pyb_value_kind(tensor) == PYB_KIND_TENSOR);
    DLManagedTensorVersioned *out = NULL;
    OK(pyb_value_tensor(tensor, &out));
    CHECK(out && out->dl_tensor.ndim == 2 && out->dl_tensor.shape[1] == 3 &&
          ((float *)out->dl_tensor.data)[5] == 7.5f);
    pyb_value_free(tensor);
    CHECK(tensor_deleted == 0); /* `out` still uses it */
    out->deleter(out);
    CHECK(tensor_deleted == 1);
    DLManagedTensorVersioned *bad = new_host_tensor();
    bad->dl_tensor.dtype.lanes = 4;
    CHECK(pyb_tensor(bad, &tensor) == PYB_ERROR_ARGUMENT && last_message_contains("dtype.lanes=4 (only 1 is supported)"));
    CHECK(tensor_deleted == 2); /* consumed even when refused */
    bad = new_host_tensor();
    bad->dl_tensor.shape[0] = INT64_MAX;
    CHECK(pyb_tensor(bad, &tensor) == PYB_ERROR_ARGUMENT && last_message_contains("element count overflows int64"));
    CHECK(tensor_deleted == 3);
    /* ndim far beyond the 2-entry shape array: refused before the array is read (ASan
     * would see the read), naming the parameter and the limit */
    bad = new_host_tensor();
    bad->dl_tensor.ndim = 1000000;
    CHECK(pyb_tensor(bad, &tensor) == PYB_ERROR_ARGUMENT &&
          last_message_contains("pyb_tensor: ndim=1000000 (must be 0 to 64)"));
    CHECK(tensor_deleted == 4);
    bad = new_host_tensor();
    bad->dl_tensor.ndim = PYB_MAX_RANK + 1;
    CHECK(pyb_tensor(bad, &tensor) == PYB_ERROR_ARGUMENT && last_message_contains("ndim=65 (must be 0 to 64)"));
    bad = new_host_tensor();
    bad->dl_tensor.shape[1] = -3;
    CHECK(pyb_tensor(bad, &tensor) == PYB_ERROR_ARGUMENT && last_message_contains("shape[1]=-3 (negative extent)"));
    bad = new_host_tensor();
    bad->dl_tensor.shape = NULL;
    CHECK(pyb_tensor(bad, &tensor) == PYB_ERROR_ARGUMENT && last_message_contains("shape=NULL with ndim=2"));
    bad = new_host_tensor();
    bad->dl_tensor.data = NULL;
    CHECK(pyb_tensor(bad, &tensor) == PYB_ERROR_ARGUMENT && last_message_contains("data=NULL for a tensor with elements"));
    bad = new_host_tensor();
    bad->dl_tensor.dtype.code = 200;
    CHECK(pyb_tensor(bad, &tensor) == PYB_ERROR_ARGUMENT && last_message_contains("dtype.code=200"));
    bad = new_host_tensor();
    bad->version.major = 2;
    CHECK(pyb_tensor(bad, &tensor) == PYB_ERROR_ARGUMENT && last_message_contains("version.major=2"));
    CHECK(tensor_deleted == 10);

    pyb_value *values_[] = {none, b, i, f, s, by, sym, list, tuple, dict};
    for (size_t k = 0; k < sizeof values_ / sizeof *values_; ++k) pyb_value_free(values_[k]);
    pyb_value_free(NULL);
}

static void calls(pyb_interpreter *py) {
    pyb_object *math = NULL, *sqrt_fn = NULL;
    OK(pyb_import(py, "math", &math));
    pyb_value *pi = NULL;
    OK(pyb_getattr(py, math, "pi", &pi));
    double v = 0;
    OK(pyb_value_float(pi, &v));
    CHECK(fabs(v - 3.14159265358979) < 1e-12);
    OK(pyb_getattr_object(py, math, "sqrt", &sqrt_fn));
    pyb_value *two = pyb_float(2.0), *r = NULL;
    const pyb_value *args[] = {two};
    OK(pyb_call(py, sqrt_fn, args, 1, NULL, NULL, 0, &r));
    OK(pyb_value_float(r, &v));
    CHECK(fabs(v - 1.41421356237) < 1e-9);
    pyb_value_free(r);

    /* keywords: int('ff', base=16) */
    pyb_object *int_type = NULL;
    OK(pyb_exec(py, "import builtins\n"));
    pyb_value *ff = pyb_str("ff", 2), *base = pyb_int(16);
    OK(pyb_eval(py, "builtins", &r));
    OK(pyb_value_object(r, &int_type)); /* the module, as an object */
    pyb_value_free(r);
    pyb_object *int_fn = NULL;
    OK(pyb_getattr_object(py, int_type, "int", &int_fn));
    const char *kwnames[] = {"base"};
    const pyb_value *pos[] = {ff}, *kw[] = {base};
    OK(pyb_call(py, int_fn, pos, 1, kwnames, kw, 1, &r));
    int64_t iv = 0;
    OK(pyb_value_int(r, &iv));
    CHECK(iv == 255);
    pyb_value_free(r);

    /* objects: a result kept in Python, an object passed back, setattr */
    OK(pyb_exec(py, "class Box:\n    pass\n"));
    pyb_object *box_type = NULL, *box = NULL;
    OK(pyb_eval(py, "Box", &r));
    OK(pyb_value_object(r, &box_type));
    pyb_value_free(r);
    OK(pyb_call_object(py, box_type, NULL, 0, NULL, NULL, 0, &box));
    pyb_value *seven = pyb_int(7);
    OK(pyb_setattr(py, box, "size", seven));
    OK(pyb_getattr(py, box, "size", &r));
    CHECK(pyb_value_int(r, &iv) == PYB_OK && iv == 7);
    pyb_value_free(r);
    pyb_value *box_value = pyb_object_value(box);
    CHECK(pyb_value_kind(box_value) == PYB_KIND_OBJECT);

    /* Python errors: type, message, traceback; SystemExit keeps the host running */
    CHECK(pyb_exec(py, "def f():\n    raise ValueError('bad shape')\nf()\n") == PYB_ERROR_PYTHON);
    const pyb_error *e = pyb_last_error();
    CHECK(strcmp(pyb_error_type(e), "ValueError") == 0 && strcmp(pyb_error_message(e), "bad shape") == 0);
    CHECK(strstr(pyb_error_traceback(e), "in f") != NULL);
    int code = 0;
    CHECK(pyb_error_exit_code(e, &code) == 0);
    CHECK(pyb_exec(py, "import sys; sys.exit(3)") == PYB_ERROR_PYTHON);
    CHECK(pyb_error_exit_code(pyb_last_error(), &code) == 1 && code == 3);
    CHECK(pyb_getattr(py, math, "nope", &r) == PYB_ERROR_PYTHON && r == NULL &&
          strcmp(pyb_error_type(pyb_last_error()), "AttributeError") == 0);
    CHECK(pyb_call(py, NULL, NULL, 0, NULL, NULL, 0, &r) == PYB_ERROR_ARGUMENT);
    /* Argument counts past the limits: refused before anything is read or allocated (it
     * was PYB_ERROR_HOST "vector::reserve") */
    const pyb_value *one_arg[1] = {NULL};
    CHECK(pyb_call(py, sqrt_fn, one_arg, (size_t)-1, NULL, NULL, 0, &r) == PYB_ERROR_ARGUMENT &&
          last_message_contains("nargs is 18446744073709551615, more than PYB_MAX_ARGS (65536)"));
    CHECK(pyb_call(py, sqrt_fn, one_arg, PYB_MAX_ARGS + 1, NULL, NULL, 0, &r) == PYB_ERROR_ARGUMENT &&
          last_message_contains("more than PYB_MAX_ARGS"));
    const char *one_name[1] = {"x"};
    CHECK(pyb_call(py, sqrt_fn, NULL, 0, one_name, one_arg, (size_t)1 << 40, &r) == PYB_ERROR_ARGUMENT &&
          last_message_contains("nkwargs is 1099511627776, more than PYB_MAX_KWARGS (65536)"));
    CHECK(pyb_call(py, sqrt_fn, NULL, 1, NULL, NULL, 0, &r) == PYB_ERROR_ARGUMENT &&
          last_message_contains("args is NULL but nargs is 1"));

    /* a host function called from Python; its user data destroyed once */
    int64_t *offset = malloc(sizeof *offset);
    *offset = 100;
    pyb_value *fn = pyb_function("add_ints", add_ints, offset, destroy_user);
    CHECK(pyb_value_kind(fn) == PYB_KIND_FUNCTION);
    pyb_object *caller = NULL;
    OK(pyb_eval(py, "lambda f: f(1, 2, 3)", &r));
    OK(pyb_value_object(r, &caller));
    pyb_value_free(r);
    const pyb_value *fargs[] = {fn};
    OK(pyb_call(py, caller, fargs, 1, NULL, NULL, 0, &r));
    CHECK(pyb_value_int(r, &iv) == PYB_OK && iv == 106);
    pyb_value_free(r);
    pyb_object *bad_caller = NULL;
    OK(pyb_eval(py, "lambda f: f('x')", &r));
    OK(pyb_value_object(r, &bad_caller));
    pyb_value_free(r);
    /* Its failure is a pybridge.HostError inside Python (catchable there) ... */
    pyb_object *catcher = NULL;
    OK(pyb_exec(py, "def catch(f):\n    try:\n        f('x')\n    except Exception as e:\n"
                    "        return type(e).__name__ + ': ' + str(e)\n"));
    OK(pyb_eval(py, "catch", &r));
    OK(pyb_value_object(r, &catcher));
    pyb_value_free(r);
    OK(pyb_call(py, catcher, fargs, 1, NULL, NULL, 0, &r));
    CHECK(str_is(r, "HostError: pybridge: host function 'add_ints' failed (status 3): pybridge: expected an int, "
                    "got a str value"));
    pyb_value_free(r);
    pyb_object_free(catcher);
    /* ... and, uncaught, comes back to the host as a host error with its message. */
    CHECK(pyb_call(py, bad_caller, fargs, 1, NULL, NULL, 0, &r) == PYB_ERROR_HOST &&
          last_message_contains("expected an int, got a str value"));
    /* Keyword arguments: refused as the function's own failure, naming it. */
    pyb_object *kw_caller = NULL;
    OK(pyb_eval(py, "lambda f: f(1, x=2)", &r));
    OK(pyb_value_object(r, &kw_caller));
    pyb_value_free(r);
    CHECK(pyb_call(py, kw_caller, fargs, 1, NULL, NULL, 0, &r) == PYB_ERROR_HOST &&
          last_message_contains("host function 'add_ints' was called with keyword arguments"));
    pyb_object_free(kw_caller);
    pyb_value_free(fn);
    OK(pyb_exec(py, "import gc; gc.collect()"));
    CHECK(destroyed == 1);

    pyb_value *frees[] = {pi, two, ff, base, seven, box_value};
    for (size_t k = 0; k < sizeof frees / sizeof *frees; ++k) pyb_value_free(frees[k]);
    pyb_object *objs[] = {math, sqrt_fn, int_type, int_fn, box_type, box, caller, bad_caller};
    for (size_t k = 0; k < sizeof objs / sizeof *objs; ++k) pyb_object_free(objs[k]);
}

static void futures(pyb_interpreter *py) {
    pyb_object *sleep_fn = NULL, *time_mod = NULL;
    OK(pyb_import(py, "time", &time_mod));
    OK(pyb_getattr_object(py, time_mod, "sleep", &sleep_fn));
    pyb_value *short_sleep = pyb_float(0.05), *long_sleep = pyb_float(30.0), *r = NULL;
    const pyb_value *a1[] = {short_sleep}, *a2[] = {long_sleep};

    pyb_future *fut = NULL;
    int calls_done = 0;
    OK(pyb_call_async(py, sleep_fn, a1, 1, NULL, NULL, 0, &fut));
    OK(pyb_future_on_complete(fut, on_done, &calls_done));
    CHECK(pyb_future_on_complete(fut, on_done, &calls_done) == PYB_ERROR_ARGUMENT); /* one per future */
    OK(pyb_future_wait(fut, NULL) == PYB_OK ? PYB_OK : PYB_ERROR_HOST);
    CHECK(pyb_future_on_complete(fut, on_done, &calls_done) == PYB_ERROR_ARGUMENT); /* also once finished */
    CHECK(calls_done == 1);
    pyb_future_free(fut);
    OK(pyb_call_async(py, sleep_fn, a1, 1, NULL, NULL, 0, &fut));
    CHECK(pyb_future_wait_for(fut, 0.0, &r) == PYB_ERROR_TIMEOUT && r == NULL);
    OK(pyb_future_wait(fut, &r));
    CHECK(pyb_value_kind(r) == PYB_KIND_NONE && pyb_future_poll(fut) == 1);
    CHECK(calls_done == 1);
    pyb_value_free(r);
    CHECK(pyb_future_wait(fut, &r) == PYB_ERROR_ARGUMENT && r == NULL); /* once */
    pyb_future_free(fut);

    /* a running call interrupted (at its next bytecode), a queued one never run */
    pyb_future *running = NULL, *queued = NULL;
    pyb_object *spin = NULL;
    int queued_done = 0;
    int started_pipe[2];
    CHECK(pipe(started_pipe) == 0);
    char spin_source[160];
    snprintf(spin_source, sizeof spin_source,
             "def spin():\n    __import__('os').write(%d, b'x')\n    while True:\n        pass\n", started_pipe[1]);
    OK(pyb_exec(py, spin_source));
    OK(pyb_eval(py, "spin", &r));
    OK(pyb_value_object(r, &spin));
    pyb_value_free(r);
    OK(pyb_call_async(py, spin, NULL, 0, NULL, NULL, 0, &running));
    OK(pyb_call_async(py, sleep_fn, a2, 1, NULL, NULL, 0, &queued));
    OK(pyb_future_on_complete(queued, on_done, &queued_done));
    int was_queued = -1;
    OK(pyb_future_cancel(queued, &was_queued));
    CHECK(was_queued == 1);
    char started_byte = 0;
    CHECK(read(started_pipe[0], &started_byte, 1) == 1 && started_byte == 'x'); /* spin() runs */
    close(started_pipe[0]);
    close(started_pipe[1]);
    CHECK(pyb_future_wait_for(running, 0.2, NULL) == PYB_ERROR_TIMEOUT); /* it is still running */
    OK(pyb_future_cancel(running, &was_queued));
    CHECK(was_queued == 0);
    CHECK(pyb_future_wait(running, &r) == PYB_ERROR_CANCELLED);
    CHECK(pyb_future_wait(queued, &r) == PYB_ERROR_CANCELLED);
    OK(pyb_exec(py, "pass")); /* the loop discards the cancelled call before this one */
    CHECK(queued_done == 1);
    pyb_future_free(running);
    pyb_future_free(queued);
    pyb_object_free(spin);
    pyb_future_free(NULL);
    pyb_value_free(short_sleep);
    pyb_value_free(long_sleep);
    pyb_object_free(sleep_fn);
    pyb_object_free(time_mod);
}

static void ops(pyb_interpreter *py) {
    pyb_op *hypot = NULL, *op_bad = NULL;
    OK(pyb_op_resolve(py, "math.hypot", &hypot));
    pyb_value *three = pyb_int(3), *four = pyb_int(4), *r = NULL;
    const pyb_value *args[] = {three, four};
    OK(pyb_op_call(hypot, args, 2, NULL, NULL, 0, &r));
    double v = 0;
    CHECK(pyb_value_float(r, &v) == PYB_OK && v == 5.0);
    pyb_value_free(r);
    pyb_object *obj = NULL;
    OK(pyb_op_call_object(hypot, args, 2, NULL, NULL, 0, &obj));
    pyb_object_free(obj);
    CHECK(pyb_op_resolve(py, "math.nope", &op_bad) == PYB_ERROR_PYTHON && op_bad == NULL &&
          strcmp(pyb_error_type(pyb_last_error()), "AttributeError") == 0);
    OK(pyb_grad_mode_push(PYB_GRAD_DISABLED));
    OK(pyb_grad_mode_pop());
    CHECK(pyb_grad_mode_pop() == PYB_ERROR_ARGUMENT);
    CHECK(pyb_grad_mode_push((pyb_grad_mode)9) == PYB_ERROR_ARGUMENT);
    pyb_op_free(hypot);
    pyb_op_free(NULL);
    pyb_value_free(three);
    pyb_value_free(four);
}

/* pyb_tensor_keep_python_view: the behaviour (one torch tensor across calls, the release
 * after the last free) is tested in C++ (tests/cpp/test_dlpack_view_cache.cpp); handing a
 * tensor to Python here would import torch, whose process-lifetime allocations
 * LeakSanitizer reports at exit. Here: the status codes, and the deleter still runs once. */
static void kept_views(void) {
    pyb_value *tensor = NULL;
    const int deleted_before = tensor_deleted;
    OK(pyb_tensor(new_host_tensor(), &tensor));
    OK(pyb_tensor_keep_python_view(tensor));
    pyb_value *copy = pyb_value_copy(tensor);
    pyb_value_free(tensor);
    CHECK(tensor_deleted == deleted_before); /* the copy shares it */
    pyb_value_free(copy);
    CHECK(tensor_deleted == deleted_before + 1);
    pyb_value *not_tensor = pyb_int(1);
    CHECK(pyb_tensor_keep_python_view(not_tensor) == PYB_ERROR_KIND && last_message_contains("a tensor"));
    CHECK(pyb_tensor_keep_python_view(NULL) == PYB_ERROR_ARGUMENT);
    pyb_value_free(not_tensor);
}

static void *from_another_thread(void *arg) {
    pyb_value *r = NULL;
    if (pyb_eval((pyb_interpreter *)arg, "6 * 7", &r) != PYB_OK) return NULL;
    int64_t v = 0;
    pyb_value_int(r, &v);
    pyb_value_free(r);
    return v == 42 ? arg : NULL;
}

/* Handles made before the interpreter stopped, used after pyb_interpreter_free. */
struct kept_handles {
    pyb_op *op;
    pyb_object *object;
    pyb_value *object_value;
    pyb_future *future;
};

/* Every entry point that takes the interpreter, or a handle that depends on it, after
 * pyb_interpreter_free: PYB_ERROR_STOPPED with a message, never a read of freed memory
 * (under ASan, `make asan`, a use after free is a report; it used to segfault). */
static void after_free(pyb_interpreter *freed, struct kept_handles kept) {
    pyb_value *r = NULL, *two = pyb_int(2);
    pyb_object *o = NULL;
    pyb_op *op = NULL;
    pyb_future *f = NULL;
    const pyb_value *args[] = {two, two};
#define STOPPED(call)                                                                               \
    CHECK((call) == PYB_ERROR_STOPPED && last_message_contains("pybridge: ") &&                      \
          (last_message_contains("freed") || last_message_contains("stopped") || last_message_contains("not running")))
    STOPPED(pyb_stop(freed));
    STOPPED(pyb_eval(freed, "1", &r));
    CHECK(r == NULL);
    STOPPED(pyb_exec(freed, "pass"));
    STOPPED(pyb_import(freed, "math", &o));
    CHECK(o == NULL);
    STOPPED(pyb_getattr(freed, kept.object, "pi", &r));
    STOPPED(pyb_getattr_object(freed, kept.object, "pi", &o));
    STOPPED(pyb_setattr(freed, kept.object, "x", two));
    STOPPED(pyb_call(freed, kept.object, NULL, 0, NULL, NULL, 0, &r));
    STOPPED(pyb_call_object(freed, kept.object, NULL, 0, NULL, NULL, 0, &o));
    STOPPED(pyb_call_async(freed, kept.object, NULL, 0, NULL, NULL, 0, &f));
    CHECK(f == NULL);
    STOPPED(pyb_op_resolve(freed, "math.sqrt", &op));
    CHECK(op == NULL);
    STOPPED(pyb_op_call(kept.op, args, 2, NULL, NULL, 0, &r));
    STOPPED(pyb_op_call_object(kept.op, args, 2, NULL, NULL, 0, &o));
    CHECK(r == NULL && o == NULL);
    /* values do not depend on the interpreter; an object value converts on the host */
    pyb_value *copy = pyb_value_copy(kept.object_value);
    CHECK(pyb_value_kind(copy) == PYB_KIND_OBJECT);
    pyb_object *inner = NULL;
    OK(pyb_value_object(copy, &inner));
    pyb_value *wrapped = pyb_object_value(inner);
    CHECK(pyb_value_kind(wrapped) == PYB_KIND_OBJECT);
    pyb_interpreter_free(freed); /* a second free: an error, nothing freed twice */
    CHECK(pyb_error_status(pyb_last_error()) == PYB_ERROR_STOPPED && last_message_contains("called twice"));
#undef STOPPED
    /* dependent handles are freed as usual (their Python side is dropped) */
    pyb_value_free(wrapped);
    pyb_object_free(inner);
    pyb_value_free(copy);
    pyb_op_free(kept.op);
    pyb_object_free(kept.object);
    pyb_value_free(kept.object_value);
    pyb_future_free(kept.future);
    pyb_value_free(two);
}

int main(void) {
    versions();
    values();
    pyb_interpreter *py = NULL;
    CHECK(pyb_start("/nonexistent/python", &py) == PYB_ERROR_HOST && py == NULL &&
          last_message_contains("'/nonexistent/python' cannot be used"));
    CHECK(pyb_start("/bin/true", &py) == PYB_ERROR_HOST && py == NULL &&
          last_message_contains("is neither a virtual environment nor the Python pybridge is linked against"));
    OK(pyb_start(NULL, &py));
    calls(py);
    futures(py);
    ops(py);
    kept_views();
    pthread_t t;
    void *ok = NULL;
    pthread_create(&t, NULL, from_another_thread, py);
    pthread_join(t, &ok);
    CHECK(ok == py);
    /* stop() with `while True: pass` running: interrupted, not waited for */
    int started_pipe[2];
    CHECK(pipe(started_pipe) == 0);
    char source[160];
    snprintf(source, sizeof source, "def forever():\n    __import__('os').write(%d, b'x')\n    while True:\n        pass\n",
             started_pipe[1]);
    OK(pyb_exec(py, source));
    pyb_value *forever_value = NULL;
    pyb_object *forever = NULL;
    OK(pyb_eval(py, "forever", &forever_value));
    OK(pyb_value_object(forever_value, &forever));
    pyb_value_free(forever_value);
    struct kept_handles kept;
    OK(pyb_op_resolve(py, "math.hypot", &kept.op));
    OK(pyb_import(py, "math", &kept.object));
    OK(pyb_eval(py, "object()", &kept.object_value));
    kept.future = NULL;
    pyb_future *endless = NULL;
    OK(pyb_call_async(py, forever, NULL, 0, NULL, NULL, 0, &endless));
    char byte = 0;
    CHECK(read(started_pipe[0], &byte, 1) == 1); /* it runs */
    close(started_pipe[0]);
    close(started_pipe[1]);
    OK(pyb_stop(py));
    pyb_value *never = NULL;
    CHECK(pyb_future_wait(endless, &never) == PYB_ERROR_STOPPED && never == NULL &&
          last_message_contains("the interpreter stopped while this call ran"));
    pyb_future_free(endless);
    pyb_object_free(forever);
    OK(pyb_stop(py)); /* idempotent */
    pyb_value *r = NULL;
    CHECK(pyb_eval(py, "1", &r) == PYB_ERROR_STOPPED && r == NULL);
    pyb_interpreter *again = NULL;
    CHECK(pyb_start(NULL, &again) == PYB_ERROR_HOST && again == NULL); /* one interpreter per process */
    pyb_interpreter_free(py);
    pyb_interpreter_free(NULL);
    after_free(py, kept);
    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("C ABI: all checks passed\n");
    return 0;
}
