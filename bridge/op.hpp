// pybridge/bridge/op.hpp — op handles: a Python callable (a torch operation, or any
// importable callable) resolved once by its dotted name and called like a local function;
// grad-mode scopes; ops defined from Python source.
//
// Arguments are host Values (the mapping table, value.hpp): host tensors cross zero-copy
// through DLPack (torch's C exchange table when available); Symbols become torch objects
// (`:f32` -> torch.float32, `:cuda` -> torch.device("cuda")); IntLists are shapes; an Object
// handle passes its Python object itself — so a tensor handle from call_ref() stays in
// Python with no conversion at all.
//
// Which mode to use: operator() converts the result (tensors come back as zero-copy host
// views, a tuple of tensors, named tuples such as torch.return_types included, as a Tuple
// of views): right when the host reads the result.
// call_ref() keeps it in Python as a handle: right for intermediate results of a chain of
// ops, for tensors that need autograd (requires_grad, .grad, backward()), and for results
// the host only passes on. Convert once at the end with to_host().
//
// Thread contract: Op is a copyable value; calls may come from any host thread (each runs on
// the interpreter thread, like Bridge's calls). Errors: PythonError for what the callable
// raises, Error for values that cannot cross.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>

#include "bridge.hpp"

namespace pyb {

// torch's autograd mode for a call: the interpreter thread's own (Inherit), or
// torch.enable_grad / torch.no_grad / torch.inference_mode for the call's duration.
enum class GradMode { Inherit, Enabled, Disabled, Inference };

// While a GradScope lives, Op calls made by the thread that created it run under `mode`.
// torch's grad mode is thread-local and all calls run on the one interpreter thread, so
// the mode travels with each call and is restored after it: another host thread's calls
// are never affected. Nestable (the innermost wins); destroy on the creating thread, in
// reverse order of creation. Bridge::call/eval do not consult it (use an Op).
class GradScope {
public:
    explicit GradScope(GradMode mode) noexcept;
    ~GradScope();
    GradScope(const GradScope &) = delete;
    GradScope &operator=(const GradScope &) = delete;
    // The calling thread's mode: the innermost live scope's, else Inherit.
    static GradMode current() noexcept;

private:
    GradMode previous_;
};

class Op {
public:
    // Resolves `dotted` once (py/pybridge/ops.py resolve): the longest importable module
    // prefix, then attributes, e.g. "torch.nn.functional.scaled_dot_product_attention",
    // "torch.linalg.svd", "torch.ops.myns.myop". Throws PythonError: ModuleNotFoundError,
    // AttributeError naming the missing part, TypeError if it is not callable.
    static Op resolve(Bridge &bridge, std::string_view dotted);
    // A handle over an existing callable (e.g. a model object).
    Op(Bridge &bridge, ObjectRef callable, std::string name);

    // Calls it under the calling thread's GradScope; the result converted (see above).
    // A braced list, op({a, b}), takes the initializer_list overloads: the arguments are
    // read in place, not copied into an Args vector.
    Value operator()(const Args &args = {}, const Kwargs &kwargs = {}) const;
    Value operator()(std::initializer_list<Value> args, const Kwargs &kwargs = {}) const;
    // Calls it; the result stays in Python as a handle.
    ObjectRef call_ref(const Args &args = {}, const Kwargs &kwargs = {}) const;
    ObjectRef call_ref(std::initializer_list<Value> args, const Kwargs &kwargs = {}) const;

    const std::string &name() const noexcept { return name_; }
    const ObjectRef &callable() const noexcept { return fn_; }

private:
    Value call(const Value *args, size_t n, const Kwargs &kwargs) const;
    ObjectRef call_kept(const Value *args, size_t n, const Kwargs &kwargs) const;

    Bridge *bridge_;
    ObjectRef fn_;
    std::string name_;
};

struct DefineOpOptions {
    bool compile = false;  // wrap the implementation in torch.compile
};

// Defines torch custom op `qualname` ("namespace::name") from Python `source` that defines
// a function `name` with torch type annotations (torch.library.custom_op needs them), and
// returns its handle (torch.ops.<namespace>.<name>, so torch's dispatcher calls it too).
// Its backward differentiates the source function (torch.func.vjp): ops written in
// differentiable torch operations have gradients. Throws PythonError (SyntaxError,
// NameError if `name` is not defined, RuntimeError if the op already exists).
Op define_op(Bridge &bridge, std::string_view qualname, std::string_view source, DefineOpOptions options = {});

// A torch tensor handle viewing host tensor `t` (zero-copy; a copy for a READ_ONLY tensor,
// see tensor.hpp), a leaf that requires grad if asked: autograd's starting point.
ObjectRef to_torch(Bridge &bridge, const Tensor &t, bool requires_grad = false);
// A zero-copy host view of the torch tensor `tensor` (autograd dropped). Throws Error if it
// is not a torch.Tensor; PythonError if torch cannot export it (sparse, meta).
Tensor to_host(Bridge &bridge, const ObjectRef &tensor);

}  // namespace pyb
