/* pybridge/bridge/pybridge.h — the stable C ABI of pybridge (C99; also valid C++).
 *
 * What Simple's `python_bridge` module (and any FFI host) binds. It embeds CPython on one
 * dedicated interpreter thread; every function here may be called from any host thread
 * unless it says otherwise, and blocks the caller until its work ran there.
 *
 * Conventions, for every function:
 *   - Status: fallible functions return pyb_status; PYB_OK is 0. On failure the calling
 *     thread's last error (pyb_last_error) holds the kind, the Python exception type name,
 *     the message and the Python traceback. No C++ exception ever crosses this ABI.
 *   - Ownership: a `pyb_xxx **out` receives a new handle the caller owns and frees with
 *     the matching pyb_xxx_free (exactly once). Arguments are borrowed unless the
 *     parameter is documented "consumed" (then the callee owns it, on success and failure
 *     alike). Freeing NULL is a no-op. Strings returned as `const char *` are borrowed from
 *     the handle they came from and live as long as it (errors: until the next pyb_ call
 *     on the same thread).
 *   - Misuse that can be detected (NULL where a handle is needed, a value of the wrong
 *     kind, an index out of range, a stopped interpreter) returns an error, never crashes.
 *   - Handles may be used and freed on any thread; handles of Python objects are released
 *     on the interpreter thread (queued), and dropped harmlessly after pyb_stop.
 *
 * The value mapping is the C++ one (README "Value mapping"): none, bool, int (int64), big
 * int, float (double), str (UTF-8), bytes, list, tuple, dict, set, frozenset, symbol,
 * tensor (DLPack), host function, object handle.
 *
 * Tensors cross as DLPack (https://dmlc.github.io/dlpack/latest/): DLManagedTensorVersioned
 * in and out, zero-copy.
 */
#ifndef PYBRIDGE_H
#define PYBRIDGE_H

#include <stddef.h>
#include <stdint.h>

#include <dlpack/dlpack.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define PYB_API __attribute__((visibility("default")))
#else
#define PYB_API
#endif

/* ---- Versions ------------------------------------------------------------------------ */

#define PYB_VERSION_MAJOR 0
#define PYB_VERSION_MINOR 1
#define PYB_VERSION_PATCH 0
/* Bumped on any incompatible change to this header's functions or types. */
#define PYB_ABI_VERSION 1

/* "MAJOR.MINOR.PATCH" of the library loaded (static storage). */
PYB_API const char *pyb_version(void);
/* PYB_ABI_VERSION of the library loaded: compare with the header's to detect a mismatch. */
PYB_API int pyb_abi_version(void);

/* ---- Errors -------------------------------------------------------------------------- */

typedef enum pyb_status {
    PYB_OK = 0,
    PYB_ERROR_PYTHON = 1,    /* Python raised: pyb_error_type/message/traceback say what */
    PYB_ERROR_ARGUMENT = 2,  /* a NULL handle, an index out of range, invalid UTF-8, ... */
    PYB_ERROR_KIND = 3,      /* a value of another kind than the function needs */
    PYB_ERROR_STOPPED = 4,   /* the interpreter is stopped (or never started) */
    PYB_ERROR_CANCELLED = 5, /* the call was cancelled, or its deadline passed */
    PYB_ERROR_TIMEOUT = 6,   /* pyb_future_wait_for: not ready in time (the call goes on) */
    PYB_ERROR_DEADLOCK = 7,  /* waiting on the interpreter thread for a call queued behind it */
    PYB_ERROR_HOST = 8,      /* a host function failed, or another host-side error */
    PYB_ERROR_MEMORY = 9,    /* out of memory */
    PYB_STATUS_FORCE_INT = 0x7FFFFFFF /* keeps the enum int-sized: any value is valid to pass */
} pyb_status;

typedef struct pyb_error pyb_error;

/* The calling thread's last error, or NULL if the last failing call was cleared. Borrowed:
 * valid until the next pyb_ call on this thread. Any thread (per-thread state). */
PYB_API const pyb_error *pyb_last_error(void);
/* Forgets the calling thread's last error. */
PYB_API void pyb_error_clear(void);
/* The error's status (PYB_OK for NULL). */
PYB_API pyb_status pyb_error_status(const pyb_error *error);
/* The message ("" for NULL); UTF-8, borrowed. */
PYB_API const char *pyb_error_message(const pyb_error *error);
/* The Python exception's type name, e.g. "ValueError" ("" when not a Python error). */
PYB_API const char *pyb_error_type(const pyb_error *error);
/* The formatted Python traceback ("" when none). */
PYB_API const char *pyb_error_traceback(const pyb_error *error);
/* 1 and *code set if the error is a SystemExit carrying an exit code (the host keeps
 * running: Python's sys.exit never exits the host); else 0. */
PYB_API int pyb_error_exit_code(const pyb_error *error, int *code);

/* ---- The interpreter ----------------------------------------------------------------- */

typedef struct pyb_interpreter pyb_interpreter;

/* Starts CPython on its own thread. `python_executable`: the bin/python of the virtual
 * environment to use (a venv made from the Python whose libpython pybridge links, or that
 * Python itself); NULL or "": the PYBRIDGE_* environment variables, else the environment
 * pybridge was built with. Errors: PYB_ERROR_HOST with the reason — a missing or unusable executable,
 * a venv of another Python, and also a second start in the process (one interpreter per
 * process; a start after pyb_stop included): the message says which. */
PYB_API pyb_status pyb_start(const char *python_executable, pyb_interpreter **out);
/* Stops the interpreter: queued calls fail with PYB_ERROR_STOPPED, later calls too; the
 * running call, if any, is interrupted once at its next bytecode boundary and fails with
 * PYB_ERROR_STOPPED (native code runs to its end first; Python code that catches
 * BaseException keeps pyb_stop waiting). Waits for the interpreter thread to end.
 * Idempotent. Not from inside a call (a host function): PYB_ERROR_DEADLOCK. */
PYB_API pyb_status pyb_stop(pyb_interpreter *interp);
/* Stops the interpreter (as pyb_stop) and retires the handle. CPython starts once per
 * process, so the handle's few bytes are kept, not returned to the allocator: a later call
 * with it — pyb_eval, pyb_stop, a second pyb_interpreter_free — or with a handle that
 * depends on it (an op, an object, a future) returns PYB_ERROR_STOPPED with a message,
 * never reads freed memory. Then free the dependent handles as usual. */
PYB_API void pyb_interpreter_free(pyb_interpreter *interp);

/* ---- Limits ---------------------------------------------------------------------------
 * Checked before anything is allocated or read; beyond them a call fails with
 * PYB_ERROR_ARGUMENT naming the parameter and the limit. */
#define PYB_MAX_RANK 64           /* a tensor's ndim (numpy's NPY_MAXDIMS) */
#define PYB_MAX_ARGS 65536        /* positional arguments of one call (nargs) */
#define PYB_MAX_KWARGS 65536      /* keyword arguments of one call (nkwargs) */

/* ---- Values -------------------------------------------------------------------------- */

typedef struct pyb_value pyb_value;
typedef struct pyb_object pyb_object;

typedef enum pyb_kind {
    PYB_KIND_NONE = 0,
    PYB_KIND_BOOL = 1,
    PYB_KIND_INT = 2,
    PYB_KIND_BIGINT = 3,   /* an int beyond int64 (read it with pyb_value_str: decimal) */
    PYB_KIND_FLOAT = 4,
    PYB_KIND_STR = 5,
    PYB_KIND_BYTES = 6,
    PYB_KIND_LIST = 7,     /* also lists of only floats / only ints (stored packed) */
    PYB_KIND_TUPLE = 8,
    PYB_KIND_DICT = 9,
    PYB_KIND_SET = 10,
    PYB_KIND_FROZENSET = 11,
    PYB_KIND_SYMBOL = 12,
    PYB_KIND_TENSOR = 13,
    PYB_KIND_FUNCTION = 14,
    PYB_KIND_OBJECT = 15,
    PYB_KIND_FORCE_INT = 0x7FFFFFFF
} pyb_kind;

/* Constructors: a new value the caller frees with pyb_value_free; NULL only when out of
 * memory (or, for str and symbol, invalid UTF-8: then the last error says so). */
PYB_API pyb_value *pyb_none(void);
PYB_API pyb_value *pyb_bool(int value);
PYB_API pyb_value *pyb_int(int64_t value);
PYB_API pyb_value *pyb_float(double value);
PYB_API pyb_value *pyb_str(const char *utf8, size_t size);      /* copies; size in bytes */
PYB_API pyb_value *pyb_bytes(const void *data, size_t size);    /* copies */
PYB_API pyb_value *pyb_symbol(const char *name);                /* :f32 is pyb_symbol("f32") */
PYB_API pyb_value *pyb_list(void);                              /* empty; fill with pyb_append */
PYB_API pyb_value *pyb_tuple(void);
PYB_API pyb_value *pyb_dict(void);                              /* empty; fill with pyb_dict_set */
/* A new handle holding a deep copy of `value`. */
PYB_API pyb_value *pyb_value_copy(const pyb_value *value);
/* Appends `item` (consumed) to a list or tuple. PYB_ERROR_KIND for other kinds;
 * PYB_ERROR_ARGUMENT, nothing consumed, if `item` is `sequence` itself. */
PYB_API pyb_status pyb_append(pyb_value *sequence, pyb_value *item);
/* Sets dict[key] = value (both consumed); a later equal key is stored after (Python keeps
 * the last one). PYB_ERROR_KIND if `dict` is not a dict; PYB_ERROR_ARGUMENT, nothing
 * consumed, if two of the three are the same handle. */
PYB_API pyb_status pyb_dict_set(pyb_value *dict, pyb_value *key, pyb_value *value);
/* A tensor value that owns `managed` (consumed: its deleter runs exactly once, on whichever
 * thread drops the last user — the host's or Python's; it must be thread-safe). Checked
 * before any array is read: the major version, 0 <= ndim <= PYB_MAX_RANK, a shape array
 * when ndim > 0, lanes == 1, a known dtype in whole bytes, a known device, extents >= 0, a
 * layout whose byte extent fits in int64, data non-NULL when there are elements. Else
 * PYB_ERROR_ARGUMENT naming the field and its value ("ndim=1000 (must be 0 to 64)"),
 * managed freed. The shape (and strides) arrays must hold ndim entries: C cannot check it. */
PYB_API pyb_status pyb_tensor(DLManagedTensorVersioned *managed, pyb_value **out);
/* Opt-in, for a tensor passed to Python again and again (weights, a loop's inputs): every
 * later hand-off of this tensor value (and its copies) gives Python one and the same torch
 * tensor, kept while it still views exactly this memory, instead of a fresh view each time
 * (0.30 us instead of 1.01 us per hand-off in bench/dlpack). What Python sets on that tensor object
 * stays (attributes, .grad), as for a tensor kept in a Python variable. The memory is then
 * held until the last copy is freed, and the deleter runs after that on the interpreter
 * thread (at pyb_stop at the latest). Any thread. PYB_ERROR_KIND if `tensor` is not a
 * tensor value. (C++: pyb::Tensor::keep_python_view, marshal/tensor.hpp.) */
PYB_API pyb_status pyb_tensor_keep_python_view(pyb_value *tensor);
/* A value holding the Python object of `object` (a new reference to the same object). */
PYB_API pyb_value *pyb_object_value(const pyb_object *object);

/* A host function Python can call: `fn(user, args, nargs, &result)` runs on the interpreter
 * thread (it may call pybridge again: re-entrant calls run inline). `args` are borrowed for
 * the call; on PYB_OK *result is a new value (consumed; NULL means None); whatever *result
 * holds after another status is freed as well (set it only on success). Any other status
 * raises pybridge.HostError in Python ("host function 'NAME' failed (status N): <the last
 * error's message>"); if Python does not catch it, the host's call that led there returns
 * PYB_ERROR_HOST with that message. Keyword arguments are refused the same way (C host
 * functions take positional arguments only). `destroy(user)`
 * (may be NULL) runs once when Python and the host have dropped the function, on any
 * thread. */
typedef pyb_status (*pyb_host_fn)(void *user, const pyb_value *const *args, size_t nargs, pyb_value **result);
PYB_API pyb_value *pyb_function(const char *name, pyb_host_fn fn, void *user, void (*destroy)(void *user));

/* Frees a value (any thread). */
PYB_API void pyb_value_free(pyb_value *value);

/* Reading values. The kind of NULL is PYB_KIND_NONE. */
PYB_API pyb_kind pyb_value_kind(const pyb_value *value);
PYB_API pyb_status pyb_value_bool(const pyb_value *value, int *out);
PYB_API pyb_status pyb_value_int(const pyb_value *value, int64_t *out);
PYB_API pyb_status pyb_value_float(const pyb_value *value, double *out);  /* float, or int within int64 */
/* The bytes of a str (UTF-8), bytes, symbol (its name) or big int (decimal text);
 * borrowed from `value`. *size excludes the terminating NUL that follows. */
PYB_API pyb_status pyb_value_str(const pyb_value *value, const char **data, size_t *size);
/* Items of a list, tuple, set, frozenset; entries of a dict. */
PYB_API pyb_status pyb_value_len(const pyb_value *value, size_t *out);
/* Item `index` of a list, tuple, set or frozenset: a new value (a copy). */
PYB_API pyb_status pyb_value_item(const pyb_value *value, size_t index, pyb_value **out);
/* Entry `index` of a dict, in insertion order: new key and value handles. */
PYB_API pyb_status pyb_value_dict_entry(const pyb_value *value, size_t index, pyb_value **key, pyb_value **item);
/* The tensor of a tensor value as a new DLManagedTensorVersioned sharing its memory (zero
 * copy): the caller calls (*out)->deleter(*out) once when done, on any thread. */
PYB_API pyb_status pyb_value_tensor(const pyb_value *value, DLManagedTensorVersioned **out);
/* The object handle of an object value (a new handle). */
PYB_API pyb_status pyb_value_object(const pyb_value *value, pyb_object **out);

/* ---- Python objects and calls -------------------------------------------------------- */

/* Frees an object handle (the decref runs on the interpreter thread). */
PYB_API void pyb_object_free(pyb_object *object);

/* import `module` (dotted). */
PYB_API pyb_status pyb_import(pyb_interpreter *interp, const char *module, pyb_object **out);
/* getattr(object, name): converted by the value table, or kept as an object. */
PYB_API pyb_status pyb_getattr(pyb_interpreter *interp, const pyb_object *object, const char *name, pyb_value **out);
PYB_API pyb_status pyb_getattr_object(pyb_interpreter *interp, const pyb_object *object, const char *name,
                                      pyb_object **out);
/* setattr(object, name, value). */
PYB_API pyb_status pyb_setattr(pyb_interpreter *interp, const pyb_object *object, const char *name,
                               const pyb_value *value);
/* callable(*args, **kwargs): `nargs` positional values, then `nkwargs` keyword values named
 * by `kwnames` (arrays may be NULL when their count is 0). The result converted by the
 * value table (out may be NULL to drop it), or kept as an object. */
PYB_API pyb_status pyb_call(pyb_interpreter *interp, const pyb_object *callable, const pyb_value *const *args,
                            size_t nargs, const char *const *kwnames, const pyb_value *const *kwargs, size_t nkwargs,
                            pyb_value **out);
PYB_API pyb_status pyb_call_object(pyb_interpreter *interp, const pyb_object *callable, const pyb_value *const *args,
                                   size_t nargs, const char *const *kwnames, const pyb_value *const *kwargs,
                                   size_t nkwargs, pyb_object **out);
/* eval(expression) / exec(source) in module __main__ (names persist between calls). */
PYB_API pyb_status pyb_eval(pyb_interpreter *interp, const char *expression, pyb_value **out);
PYB_API pyb_status pyb_exec(pyb_interpreter *interp, const char *source);

/* ---- Futures ------------------------------------------------------------------------- */

typedef struct pyb_future pyb_future;

/* pyb_call, without waiting: the call is queued (FIFO) and runs on the interpreter thread. */
PYB_API pyb_status pyb_call_async(pyb_interpreter *interp, const pyb_object *callable, const pyb_value *const *args,
                                  size_t nargs, const char *const *kwnames, const pyb_value *const *kwargs,
                                  size_t nkwargs, pyb_future **out);
/* Waits for the result (out may be NULL). Once: afterwards PYB_ERROR_ARGUMENT. On the
 * interpreter thread (inside a host function) for a call not yet run: PYB_ERROR_DEADLOCK. */
PYB_API pyb_status pyb_future_wait(pyb_future *future, pyb_value **out);
/* As pyb_future_wait, at most `seconds`; PYB_ERROR_TIMEOUT if not ready (wait again later). */
PYB_API pyb_status pyb_future_wait_for(pyb_future *future, double seconds, pyb_value **out);
/* 1 if the call finished (or failed, or was cancelled; also after its result was taken),
 * else 0 (and for NULL). Never blocks. */
PYB_API int pyb_future_poll(const pyb_future *future);
/* Cancels: a queued call never runs; a running one gets an exception at its next bytecode
 * (C-level work such as one torch op finishes first). *was_queued (may be NULL) is 1 if it
 * had not started. Waiting then gives PYB_ERROR_CANCELLED (or the result if it finished). */
PYB_API pyb_status pyb_future_cancel(pyb_future *future, int *was_queued);
/* Calls `callback(user)` once when the call has finished, for hosts with their own event
 * loop: on the interpreter thread as the call completes (or on the calling thread now, if
 * it already has). The callback must be quick and must not wait on this future (post to
 * your loop; pyb_future_wait there returns at once or within microseconds). One callback
 * per future: a second registration is PYB_ERROR_ARGUMENT. */
PYB_API pyb_status pyb_future_on_complete(pyb_future *future, void (*callback)(void *user), void *user);
/* Frees the future; the call itself still runs unless cancelled. */
PYB_API void pyb_future_free(pyb_future *future);

/* ---- Ops and grad modes -------------------------------------------------------------- */

typedef struct pyb_op pyb_op;

/* Resolves a dotted name once ("torch.nn.functional.gelu", "torch.linalg.svd"). Errors:
 * PYB_ERROR_PYTHON (ModuleNotFoundError, AttributeError naming the missing part). */
PYB_API pyb_status pyb_op_resolve(pyb_interpreter *interp, const char *dotted, pyb_op **out);
/* Calls the op with host values (tensors zero-copy, symbols as torch dtypes/devices) under
 * the calling thread's grad mode; the result converted (tensors as host views, tuples of
 * tensors as tuples), or kept in Python as an object. */
PYB_API pyb_status pyb_op_call(const pyb_op *op, const pyb_value *const *args, size_t nargs,
                               const char *const *kwnames, const pyb_value *const *kwargs, size_t nkwargs,
                               pyb_value **out);
PYB_API pyb_status pyb_op_call_object(const pyb_op *op, const pyb_value *const *args, size_t nargs,
                                      const char *const *kwnames, const pyb_value *const *kwargs, size_t nkwargs,
                                      pyb_object **out);
PYB_API void pyb_op_free(pyb_op *op);

typedef enum pyb_grad_mode {
    PYB_GRAD_INHERIT = 0,   /* the interpreter thread's own mode */
    PYB_GRAD_ENABLED = 1,   /* torch.enable_grad */
    PYB_GRAD_DISABLED = 2,  /* torch.no_grad */
    PYB_GRAD_INFERENCE = 3, /* torch.inference_mode */
    PYB_GRAD_FORCE_INT = 0x7FFFFFFF
} pyb_grad_mode;

/* Op calls made by the calling thread run under `mode` until the matching pop (scopes
 * nest; other threads are not affected: torch's grad mode is thread-local and pybridge
 * carries it with each call). PYB_ERROR_ARGUMENT for an unknown mode; pop without push
 * is PYB_ERROR_ARGUMENT too. */
PYB_API pyb_status pyb_grad_mode_push(pyb_grad_mode mode);
PYB_API pyb_status pyb_grad_mode_pop(void);

#ifdef __cplusplus
}
#endif

#endif /* PYBRIDGE_H */
