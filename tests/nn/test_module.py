"""Tests of nn.Module: registration, iteration, modes, state_dict/load_state_dict, repr,
containers, module-path shape errors and the parameter names recorded for cr.explain."""

from __future__ import annotations

import copy
from collections import OrderedDict

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
from chainrule.nn.modules.module import parameter_names

try:  # optional reference for parity checks
    import torch
except ImportError:  # pragma: no cover
    torch = None


def _net(lib: object) -> object:
    """The same architecture in chainrule (lib=cr) or PyTorch (lib=torch)."""
    m = lib.nn

    class Net(m.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc1 = m.Linear(4, 8)
            self.bn = m.BatchNorm1d(8)
            self.body = m.Sequential(m.ReLU(), m.Dropout(0.2), m.Linear(8, 3, bias=False))
            self.heads = m.ModuleList([m.Tanh(), m.Tanh(), m.Bilinear(2, 3, 4)])
            self.loss = m.CrossEntropyLoss(weight=lib.ones(3))
            self.sm = m.Softmax(dim=1)
            self.flat = m.Flatten()

        def forward(self, x: object) -> object:
            return self.body(self.bn(self.fc1(x)))

    return Net()


EXPECTED_KEYS = [
    "fc1.weight", "fc1.bias", "bn.weight", "bn.bias", "bn.running_mean", "bn.running_var",
    "bn.num_batches_tracked", "body.2.weight", "heads.2.weight", "heads.2.bias", "loss.weight",
]

EXPECTED_REPR = """Net(
  (fc1): Linear(in_features=4, out_features=8, bias=True)
  (bn): BatchNorm1d(8, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)
  (body): Sequential(
    (0): ReLU()
    (1): Dropout(p=0.2, inplace=False)
    (2): Linear(in_features=8, out_features=3, bias=False)
  )
  (heads): ModuleList(
    (0-1): 2 x Tanh()
    (2): Bilinear(in1_features=2, in2_features=3, out_features=4, bias=True)
  )
  (loss): CrossEntropyLoss()
  (sm): Softmax(dim=1)
  (flat): Flatten(start_dim=1, end_dim=-1)
)"""


# -- registration and iteration ---------------------------------------------------------


def test_state_dict_keys_and_order() -> None:
    net = _net(cr)
    assert list(net.state_dict()) == EXPECTED_KEYS
    if torch is not None:
        assert list(_net(torch).state_dict()) == EXPECTED_KEYS


def test_named_members_match_torch_names() -> None:
    net = _net(cr)
    names = [n for n, _ in net.named_parameters()]
    assert names == [k for k in EXPECTED_KEYS if "running" not in k and "num_batches" not in k
                     and k != "loss.weight"]
    assert [n for n, _ in net.named_buffers()] == [
        "bn.running_mean", "bn.running_var", "bn.num_batches_tracked", "loss.weight"]
    assert [n for n, _ in net.named_children()] == ["fc1", "bn", "body", "heads", "loss", "sm",
                                                    "flat"]
    module_names = [n for n, _ in net.named_modules()]
    assert module_names[:6] == ["", "fc1", "bn", "body", "body.0", "body.1"]
    if torch is not None:
        t = _net(torch)
        assert names == [n for n, _ in t.named_parameters()]
        assert module_names == [n for n, _ in t.named_modules()]
    assert all(isinstance(p, nn.Parameter) for p in net.parameters())
    assert len(list(net.parameters(recurse=False))) == 0
    assert len(list(net.children())) == 7 and next(net.modules()) is net


def test_shared_parameters_and_modules_are_listed_once() -> None:
    lin = nn.Linear(3, 3)
    model = nn.Sequential(lin, nn.ReLU(), lin)
    assert [n for n, _ in model.named_parameters()] == ["0.weight", "0.bias"]
    assert list(model.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]  # as torch
    assert len(list(model.modules())) == 3


def test_setattr_registers_and_validates() -> None:
    class M(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = nn.Parameter(cr.zeros(2))
            self.register_buffer("stat", cr.ones(2))
            self.register_buffer("tmp", cr.ones(1), persistent=False)
            self.child = nn.Identity()
            self.plain = 3

    m = M()
    assert list(m._parameters) == ["w"] and list(m._modules) == ["child"]
    assert list(m.state_dict()) == ["w", "stat"]  # the non-persistent buffer is left out
    with pytest.raises(TypeError, match="cannot assign 'Tensor' as parameter 'w'"):
        m.w = cr.zeros(2)
    with pytest.raises(TypeError, match="cannot assign 'int' as child module 'child'"):
        m.child = 5
    with pytest.raises(TypeError, match="cannot assign 'list' as buffer 'stat'"):
        m.stat = [1, 2]
    with pytest.raises(KeyError, match="attribute 'plain' already exists"):
        m.register_buffer("plain", cr.ones(1))
    with pytest.raises(KeyError, match="parameter name can.*t contain"):
        m.register_parameter("a.b", None)
    m.stat = cr.zeros(2)  # a tensor replaces a buffer
    np.testing.assert_array_equal(m.state_dict()["stat"].numpy(), [0, 0])
    m.w = None
    assert m.w is None and list(m.state_dict()) == ["stat"]
    m.child = nn.Linear(1, 1)  # a module replaces a module
    assert list(m.state_dict()) == ["stat", "child.weight", "child.bias"]
    del m.child
    assert "child" not in m._modules and not hasattr(m, "child")
    with pytest.raises(AttributeError, match="'M' object has no attribute 'nothing'"):
        _ = m.nothing

    class Early(nn.Module):
        def __init__(self) -> None:
            self.w = nn.Parameter(cr.zeros(1))

    with pytest.raises(AttributeError, match=r"before Module.__init__\(\) call"):
        Early()


def test_reassigning_keeps_the_registration_order() -> None:
    # as PyTorch: replacing self.weight (or a child) keeps its place in parameters()
    lin = nn.Linear(2, 2)
    lin.weight = nn.Parameter(cr.zeros(2, 2))
    assert [name for name, _ in lin.named_parameters()] == ["weight", "bias"]
    seq = nn.Sequential(nn.Linear(1, 1), nn.ReLU(), nn.Linear(1, 1))
    seq[0] = nn.Linear(1, 1)
    seq.__setattr__("1", nn.Tanh())
    assert list(seq._modules) == ["0", "1", "2"]
    assert list(seq.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    if torch is not None:
        t = torch.nn.Linear(2, 2)
        t.weight = torch.nn.Parameter(torch.zeros(2, 2))
        assert [name for name, _ in t.named_parameters()] == ["weight", "bias"]


def test_missing_forward() -> None:
    with pytest.raises(NotImplementedError, match='missing the required "forward"'):
        nn.Module()(cr.ones(1))


# -- modes and gradients ------------------------------------------------------------------


def test_train_eval_propagate() -> None:
    net = _net(cr)
    assert net.training and net.body[1].training
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    with pytest.raises(ValueError, match="boolean"):
        net.train("no")


def test_zero_grad_and_requires_grad_() -> None:
    model = nn.Sequential(nn.Linear(3, 2))
    model(cr.randn(4, 3)).sum().backward()
    w = model[0].weight
    assert w.grad is not None
    model.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(w.grad.numpy(), np.zeros((2, 3)))
    model.zero_grad()
    assert w.grad is None
    model.requires_grad_(False)
    assert not any(p.requires_grad for p in model.parameters())


def test_apply_visits_children_first() -> None:
    model = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.ReLU()))
    seen = []
    model.apply(lambda m: seen.append(type(m).__name__))
    assert seen == ["Linear", "ReLU", "Sequential", "Sequential"]


def test_to_double_casts_floating_state_only() -> None:
    bn = nn.BatchNorm1d(3).double()
    assert bn.weight.dtype == cr.float64 and bn.running_var.dtype == cr.float64
    assert bn.num_batches_tracked.dtype == cr.int64
    assert bn.weight is bn._parameters["weight"]
    assert nn.Linear(2, 2).to(cr.float64).weight.dtype == cr.float64
    assert nn.Linear(2, 2).to("cpu").weight.dtype == cr.float32


def test_deepcopy_is_independent() -> None:
    model = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    clone = copy.deepcopy(model)
    assert isinstance(clone[0].weight, nn.Parameter) and clone[0].weight.requires_grad
    with cr.no_grad():
        clone[0].weight.fill_(0.0)
    assert not np.all(model[0].weight.detach().numpy() == 0)
    assert list(clone.state_dict()) == list(model.state_dict())


# -- state_dict / load_state_dict ---------------------------------------------------------


def test_state_dict_values_are_detached_and_shared() -> None:
    lin = nn.Linear(3, 2)
    sd = lin.state_dict()
    assert isinstance(sd, OrderedDict)
    assert not sd["weight"].requires_grad and not isinstance(sd["weight"], nn.Parameter)
    assert np.shares_memory(sd["weight"].detach().numpy(), lin.weight.detach().numpy())
    assert lin.state_dict(keep_vars=True)["weight"] is lin.weight


def test_load_state_dict_round_trip_with_arrays_and_tensors() -> None:
    a, b = _net(cr), _net(cr)
    x = cr.randn(5, 4)
    a.train()
    a(x)  # changes BatchNorm's running statistics
    sd = a.state_dict()
    result = b.load_state_dict({k: v.numpy() for k, v in sd.items()})
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert repr(result) == "<All keys matched successfully>"
    for k, v in b.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), sd[k].numpy())
    assert int(b.bn.num_batches_tracked.item()) == 1
    a.eval()
    b.eval()
    np.testing.assert_array_equal(a(x).detach().numpy(), b(x).detach().numpy())
    b.load_state_dict(sd)  # tensors work as well
    assert isinstance(b.fc1.weight, nn.Parameter) and b.fc1.weight.requires_grad


def test_load_state_dict_strict_errors_in_one_message() -> None:
    model = nn.Sequential(nn.Linear(3, 2), nn.ReLU(), nn.Linear(2, 1))
    before = model[0].weight.detach().numpy().copy()
    bad = {k: v.numpy() for k, v in model.state_dict().items()}
    del bad["2.bias"]
    bad["0.weight"] = np.zeros((3, 2))
    bad["extra.weight"] = np.zeros(1)
    with pytest.raises(RuntimeError) as err:
        model.load_state_dict(bad)
    msg = str(err.value)
    assert msg.startswith("Error(s) in loading state_dict for Sequential:")
    assert 'Missing key(s) in state_dict: "2.bias".' in msg
    assert 'Unexpected key(s) in state_dict: "extra.weight".' in msg
    assert ("size mismatch for 0.weight: copying a param with shape (3, 2) from checkpoint, "
            "the shape in current model is (2, 3).") in msg
    np.testing.assert_array_equal(model[0].weight.detach().numpy(), before)  # nothing was copied
    # strict=False reports the keys; a size mismatch is an error anyway, as in PyTorch
    bad["0.weight"] = np.ones((2, 3))
    result = model.load_state_dict(bad, strict=False)
    assert result.missing_keys == ["2.bias"] and result.unexpected_keys == ["extra.weight"]
    np.testing.assert_array_equal(model[0].weight.detach().numpy(), np.ones((2, 3)))
    with pytest.raises(TypeError, match="dict-like"):
        model.load_state_dict([1, 2])


def test_load_state_dict_from_torch() -> None:
    torch_ = pytest.importorskip("torch")
    t = _net(torch_)
    c = _net(cr)
    c.load_state_dict({k: v.numpy() for k, v in t.state_dict().items()})
    for k, v in c.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), t.state_dict()[k].numpy())


# -- repr ---------------------------------------------------------------------------------


def test_repr_matches_pytorch_format() -> None:
    assert repr(_net(cr)) == EXPECTED_REPR
    if torch is not None:
        assert repr(_net(torch)) == EXPECTED_REPR
    assert repr(nn.ReLU()) == "ReLU()"
    assert repr(nn.Sequential()) == "Sequential()"
    assert repr(nn.ModuleList()) == "ModuleList()"


# -- containers ---------------------------------------------------------------------------


def test_sequential_indexing_slicing_and_editing() -> None:
    a, b, c = nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)
    seq = nn.Sequential(a, b, c)
    assert len(seq) == 3 and seq[0] is a and seq[-1] is c and list(seq) == [a, b, c]
    head = seq[:2]
    assert isinstance(head, nn.Sequential) and list(head) == [a, b]
    assert list(seq[1:]._modules) == ["1", "2"]  # slices keep the keys, as PyTorch
    with pytest.raises(IndexError, match="index 3 is out of range for 3 modules"):
        seq[3]
    seq.append(nn.Sigmoid())
    assert list(seq._modules) == ["0", "1", "2", "3"]
    del seq[1]
    assert list(seq._modules) == ["0", "1", "2"] and seq[1] is c
    assert getattr(seq, "1") is c and not hasattr(seq, "3")
    seq.insert(1, b)
    assert list(seq) [1] is b and len(seq) == 4
    named = nn.Sequential(OrderedDict([("fc", nn.Linear(2, 2)), ("act", nn.Tanh())]))
    assert list(named.state_dict()) == ["fc.weight", "fc.bias"] and named.fc is named[0]
    x = cr.randn(4, 2)
    np.testing.assert_allclose(nn.Sequential(a, b, c)(x).detach().numpy(),
                               c(b(a(x))).detach().numpy())


def test_modulelist_and_moduledict() -> None:
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    assert len(layers) == 3 and isinstance(layers[1:], nn.ModuleList)
    layers.append(nn.ReLU())
    layers += [nn.Tanh()]
    assert [n for n, _ in layers.named_children()] == ["0", "1", "2", "3", "4"]
    del layers[0]
    assert [n for n, _ in layers.named_parameters()][:2] == ["0.weight", "0.bias"]
    assert isinstance(layers[-1], nn.Tanh)
    d = nn.ModuleDict({"enc": nn.Linear(2, 3), "act": nn.ReLU()})
    assert list(d) == ["enc", "act"] and "enc" in d and isinstance(d["act"], nn.ReLU)
    assert list(d.state_dict()) == ["enc.weight", "enc.bias"]
    del d["act"]
    assert list(d.keys()) == ["enc"]


# -- shape errors that point at user code --------------------------------------------------


def test_shape_error_names_the_failing_module_path() -> None:
    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(65, 10))
    with pytest.raises(ValueError) as err:
        model(cr.randn(32, 64))
    msg = str(err.value)
    assert msg.startswith("model.2 (Linear(in_features=65, out_features=10, bias=True)): "
                          "linear: input (32, 64) does not match weight (out=10, in=65)")
    assert msg.count("model") == 1  # the prefix is not stacked level after level


def test_shape_error_path_through_nested_modules() -> None:
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = nn.Sequential(nn.Linear(4, 4), nn.Sequential(nn.Linear(5, 2)))

        def forward(self, x: cr.Tensor) -> cr.Tensor:
            return self.encoder(x)

    with pytest.raises(ValueError, match=r"^model\.encoder\.1\.0 \(Linear\(in_features=5, "):
        Net()(cr.randn(2, 4))
    with pytest.raises(ValueError, match=r"^model \(Linear\(in_features=3, out_features=2, "
                                         r"bias=True\)\): linear: input \(2, 4\)"):
        nn.Linear(3, 2)(cr.randn(2, 4))
    with pytest.raises(ValueError, match=r"^model\.bn \(BatchNorm1d\(3, .*\)\): BatchNorm1d: "):
        nn.Sequential(OrderedDict(bn=nn.BatchNorm1d(3)))(cr.randn(4, 5))


def test_loss_module_errors_are_prefixed_too() -> None:
    with pytest.raises(IndexError, match=r"^model \(CrossEntropyLoss\(\)\): cross_entropy: "
                                         "target 9 is out of bounds for 3 classes"):
        nn.CrossEntropyLoss()(cr.randn(2, 3), cr.tensor([0, 9]))


def test_parameter_names_of_the_last_called_model() -> None:
    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    loss_fn = nn.MSELoss()
    loss_fn(model(cr.randn(4, 2)), cr.randn(4, 1))
    names = parameter_names()
    assert names[id(model[0].weight)] == "0.weight"
    assert names[id(model[2].bias)] == "2.bias"
