"""Ops for the host: resolving dotted names, grad-mode scopes, and ops defined from source.

bridge/op.hpp calls these; they also work in plain Python, which is how the tests compare.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable


def resolve(dotted: str) -> Callable[..., Any]:
    """The callable a dotted name names: the longest importable module prefix, then
    attributes ("torch.nn.functional.gelu", "torch.linalg.svd", "torch.ops.myns.myop").

    Raises ModuleNotFoundError when no prefix imports, AttributeError naming the missing
    part, TypeError when the object is not callable.
    """
    parts = dotted.split(".")
    if not dotted or any(not p for p in parts):
        raise ValueError(f"not a dotted name: {dotted!r}")
    obj, used = None, 0
    for i in range(len(parts), 0, -1):
        try:
            obj, used = importlib.import_module(".".join(parts[:i])), i
            break
        except ModuleNotFoundError as e:
            if e.name is None or not ".".join(parts[:i]).startswith(e.name):
                raise  # the module exists but an import inside it failed
    if obj is None:
        raise ModuleNotFoundError(f"no module of {dotted!r} can be imported (tried {parts[0]!r})", name=parts[0])
    for j in range(used, len(parts)):
        try:
            obj = getattr(obj, parts[j])
        except AttributeError:
            raise AttributeError(f"{'.'.join(parts[:j])!r} has no attribute {parts[j]!r} (resolving {dotted!r})") from None
    if not callable(obj):
        raise TypeError(f"{dotted!r} is a {type(obj).__name__}, not callable")
    return obj


# Grad modes, as bridge/op.hpp numbers them.
ENABLED, DISABLED, INFERENCE = 1, 2, 3


def call_in_mode(mode: int, fn: Callable[..., Any], *args, **kwargs):
    """fn(*args, **kwargs) under a grad mode: ENABLED (torch.enable_grad), DISABLED
    (torch.no_grad) or INFERENCE (torch.inference_mode)."""
    import torch

    scope = {ENABLED: torch.enable_grad, DISABLED: torch.no_grad, INFERENCE: torch.inference_mode}[mode]
    with scope():
        return fn(*args, **kwargs)


def define_op(qualname: str, source: str, *, compile: bool = False, mutates_args: tuple = ()):
    """Defines a torch custom op from Python source text and returns it.

    `qualname` is "namespace::name"; `source` must define a function `name` whose
    parameters and return are annotated with torch types (torch.library.custom_op needs
    them), e.g. ``def scaled_gelu(x: torch.Tensor, s: float) -> torch.Tensor``. With
    `compile`, the implementation is wrapped in torch.compile. Gradients: the op's backward
    differentiates the Python function itself (torch.func.vjp), so an op written in
    differentiable torch operations has gradients for its tensor inputs. After this the op
    is torch.ops.<namespace>.<name>, and callable through torch's dispatcher.
    """
    import torch

    namespace, sep, name = qualname.partition("::")
    if not sep or not namespace.isidentifier() or not name.isidentifier():
        raise ValueError(f"op name must be 'namespace::name', got {qualname!r}")
    try:
        getattr(getattr(torch.ops, namespace), name)
        raise RuntimeError(f"op {qualname!r} is already defined in this process (torch.ops.{namespace}.{name})")
    except AttributeError:
        pass  # not defined yet
    scope: dict[str, Any] = {"torch": torch}
    exec(compile_source(source, qualname), scope)
    fn = scope.get(name)
    if not callable(fn):
        raise NameError(f"the source of {qualname!r} defines no function {name!r}")
    impl = torch.compile(fn) if compile else fn
    op = torch.library.custom_op(qualname, mutates_args=mutates_args)(impl)

    def setup_context(ctx, inputs, output):
        ctx.inputs = inputs
        ctx.tensor_mask = [isinstance(x, torch.Tensor) for x in inputs]
        ctx.save_for_backward(*[x for x in inputs if isinstance(x, torch.Tensor)])

    def backward(ctx, *grads):
        saved = iter(ctx.saved_tensors)
        inputs = [next(saved) if is_t else x for x, is_t in zip(ctx.inputs, ctx.tensor_mask)]
        positions = [i for i, is_t in enumerate(ctx.tensor_mask) if is_t]

        def of_tensors(*tensors):
            full = list(inputs)
            for i, t in zip(positions, tensors):
                full[i] = t
            return fn(*full)

        with torch.enable_grad():
            _, vjp = torch.func.vjp(of_tensors, *[inputs[i] for i in positions])
            tensor_grads = iter(vjp(grads[0] if len(grads) == 1 else grads))
        return tuple(next(tensor_grads) if is_t else None for is_t in ctx.tensor_mask)

    op.register_autograd(backward, setup_context=setup_context)
    return op


def compile_source(source: str, qualname: str):
    return compile(source, f"<op {qualname}>", "exec")
