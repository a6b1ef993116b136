"""Hand-written NumPy references for the sequence benchmarks: a tiny GPT step with AdamW and
a one-layer LSTM language-model step with SGD, forward and backward written out by hand.

They compute exactly what the chainrule and PyTorch versions compute (same weights, same
batches, float32 throughout), with the rules of docs/derivations.md section 8:

* LayerNorm: ``dx = r (dxh - mean(dxh) - xh mean(dxh xh))``, ``dxh = dy * gamma``;
* causal attention: ``dV = P^T dO``, ``dP = dO V^T``, ``dS = P (dP - rowsum(dP P))``,
  ``dQ = dS K scale``, ``dK = dS^T Q scale``;
* GELU (tanh form), softmax cross-entropy ``(softmax(Z) - onehot) / N``, the tied head
  (the embedding's gradient is the lookup's scatter-add plus the head's ``dY^T X``);
* the LSTM: backpropagation through time with the gate rules, weight gradients summed over
  the steps in one product;
* AdamW as PyTorch writes it (decoupled decay, ``m`` by lerp, ``sqrt(v)/sqrt(bc2) + eps``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from bench.reference_numpy import softmax_cross_entropy

__all__ = ["NumpyGPT", "NumpyLSTMLM"]

_K = math.sqrt(2.0 / math.pi)


def _linear(x: np.ndarray, W: np.ndarray, b: np.ndarray | None) -> np.ndarray:
    y = x @ W.T  # (N,in)(in,out)
    if b is not None:
        y += b
    return y


def _layer_norm(x: np.ndarray, g: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, Any]:
    xc = x - x.mean(-1, keepdims=True)
    r = 1 / np.sqrt((xc * xc).mean(-1, keepdims=True) + 1e-5)
    xh = xc * r
    y = xh * g
    y += b
    return y, (xh, r)


def _layer_norm_backward(dy: np.ndarray, g: np.ndarray, cache: Any) -> tuple[np.ndarray, ...]:
    xh, r = cache
    dg = (dy * xh).sum(0)
    db = dy.sum(0)
    dxh = dy * g
    mean_dx = (dxh * xh).mean(-1, keepdims=True)
    dxh -= dxh.mean(-1, keepdims=True)
    dxh -= xh * mean_dx
    dxh *= r
    return dxh, dg, db


class _AdamW:
    """torch.optim.AdamW's update on a list of float32 arrays (in place)."""

    def __init__(self, params: list[np.ndarray], lr: float, betas: tuple[float, float],
                 eps: float, weight_decay: float) -> None:
        self.params, self.lr, self.betas, self.eps, self.wd = params, lr, betas, eps, weight_decay
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]
        self.t = 0

    def step(self, grads: list[np.ndarray]) -> None:
        self.t += 1
        b1, b2 = self.betas
        dt = self.params[0].dtype
        one_m_b1, b2_, one_m_b2 = (np.asarray(x, dt) for x in (1 - b1, b2, 1 - b2))
        bc2 = np.asarray((1 - b2**self.t) ** 0.5, dt)
        neg_step = np.asarray(-self.lr / (1 - b1**self.t), dt)
        shrink, eps = np.asarray(1 - self.lr * self.wd, dt), np.asarray(self.eps, dt)
        for p, g, m, v in zip(self.params, grads, self.m, self.v, strict=True):
            p *= shrink
            m += (g - m) * one_m_b1
            v *= b2_
            v += (g * one_m_b2) * g
            p += (m * neg_step) / (np.sqrt(v) / bc2 + eps)


class NumpyGPT:
    """A pre-norm GPT (tied head, causal attention, tanh-GELU MLP) trained with AdamW.

    ``weights`` maps the chainrule/PyTorch parameter names of ``bench.sequence_workloads``'s
    model to float32 arrays (copied). ``step(idx, targets)`` returns the loss before the
    update.
    """

    def __init__(self, weights: dict[str, np.ndarray], n_layer: int, n_head: int,
                 lr: float, betas: tuple[float, float], weight_decay: float) -> None:
        self.names = list(weights)
        self.w = {k: v.copy() for k, v in weights.items()}
        self.n_layer, self.n_head = n_layer, n_head
        self.opt = _AdamW([self.w[k] for k in self.names], lr, betas, 1e-8, weight_decay)

    def step(self, idx: np.ndarray, targets: np.ndarray) -> np.float32:
        w, grads = self.w, {k: np.zeros_like(v) for k, v in self.w.items()}
        B, T = idx.shape
        C = w["wte.weight"].shape[1]
        x = (w["wte.weight"][idx] + w["wpe.weight"][:T]).reshape(B * T, C)
        caches = []
        for i in range(self.n_layer):
            x, cache = self._block(x, f"h.{i}.", B, T)
            caches.append(cache)
        xf, ln_cache = _layer_norm(x, w["ln_f.weight"], w["ln_f.bias"])
        logits = xf @ w["wte.weight"].T  # the tied head: (BT,C)(C,V)
        loss, dz = softmax_cross_entropy(logits, targets.reshape(-1))
        grads["wte.weight"] += dz.T @ xf
        dx, grads["ln_f.weight"], grads["ln_f.bias"] = _layer_norm_backward(
            dz @ w["wte.weight"], w["ln_f.weight"], ln_cache)
        for i in reversed(range(self.n_layer)):
            dx = self._block_backward(dx, f"h.{i}.", caches[i], grads, B, T)
        np.add.at(grads["wte.weight"], idx.reshape(-1), dx)  # repeated tokens accumulate
        grads["wpe.weight"][:T] += dx.reshape(B, T, C).sum(0)
        self.opt.step([grads[k] for k in self.names])
        return loss

    def _block(self, x: np.ndarray, p: str, B: int, T: int) -> tuple[np.ndarray, Any]:
        w = self.w
        C = x.shape[1]
        h, hd = self.n_head, C // self.n_head
        a, ln1 = _layer_norm(x, w[p + "ln_1.weight"], w[p + "ln_1.bias"])
        qkv = _linear(a, w[p + "attn.c_attn.weight"], w[p + "attn.c_attn.bias"])
        # (BT,3C) -> (B,T,3,h,hd) -> (3,B,h,T,hd)
        q, k, v = qkv.reshape(B, T, 3, h, hd).transpose(2, 0, 3, 1, 4)
        scale = np.float32(1 / math.sqrt(hd))
        S = q @ k.swapaxes(-1, -2)  # (B,h,T,hd)(B,h,hd,T), then in place
        S *= scale
        S += np.triu(np.full((T, T), -np.inf, np.float32), 1)
        S -= S.max(-1, keepdims=True)
        P = np.exp(S, out=S)
        P /= P.sum(-1, keepdims=True)
        y = (P @ v).transpose(0, 2, 1, 3).reshape(B * T, C)  # (B,h,T,hd) -> (BT,C)
        x1 = x + _linear(y, w[p + "attn.c_proj.weight"], w[p + "attn.c_proj.bias"])
        m, ln2 = _layer_norm(x1, w[p + "ln_2.weight"], w[p + "ln_2.bias"])
        u = _linear(m, w[p + "mlp.c_fc.weight"], w[p + "mlp.c_fc.bias"])
        t = u * u  # tanh(k (u + c u^3)), in place
        t *= 0.044715
        t += 1
        t *= u
        t *= _K
        np.tanh(t, out=t)
        gelu = t + 1
        gelu *= u
        gelu *= 0.5
        x2 = x1 + _linear(gelu, w[p + "mlp.c_proj.weight"], w[p + "mlp.c_proj.bias"])
        return x2, (a, ln1, q, k, v, P, y, m, ln2, u, t, gelu, scale)

    def _block_backward(self, dx2: np.ndarray, p: str, cache: Any, grads: dict[str, Any],
                        B: int, T: int) -> np.ndarray:
        w = self.w
        a, ln1, q, k, v, P, y, m, ln2, u, t, gelu, scale = cache
        C = dx2.shape[1]
        h, hd = self.n_head, C // self.n_head
        # MLP: x2 = x1 + c_proj(gelu(c_fc(m)))
        grads[p + "mlp.c_proj.weight"] += dx2.T @ gelu
        grads[p + "mlp.c_proj.bias"] += dx2.sum(0)
        dg = dx2 @ w[p + "mlp.c_proj.weight"]
        du = t * t  # gelu'(u) = (1 - t^2) u/2 k (1 + 3c u^2) + (1 + t)/2, in place
        np.subtract(1, du, out=du)
        du *= u
        du *= 0.5 * _K
        u2 = u * u
        u2 *= 3 * 0.044715
        u2 += 1
        du *= u2
        du += 0.5
        du += np.multiply(t, 0.5, out=u2)
        du *= dg
        grads[p + "mlp.c_fc.weight"] += du.T @ m
        grads[p + "mlp.c_fc.bias"] += du.sum(0)
        dm = du @ w[p + "mlp.c_fc.weight"]
        dx1, grads[p + "ln_2.weight"], grads[p + "ln_2.bias"] = _layer_norm_backward(
            dm, w[p + "ln_2.weight"], ln2)
        dx1 += dx2
        # attention: x1 = x + c_proj(attn(ln_1(x)))
        grads[p + "attn.c_proj.weight"] += dx1.T @ y
        grads[p + "attn.c_proj.bias"] += dx1.sum(0)
        dy = (dx1 @ w[p + "attn.c_proj.weight"]).reshape(B, T, h, hd).transpose(0, 2, 1, 3)
        dv = P.swapaxes(-1, -2) @ dy
        dP = dy @ v.swapaxes(-1, -2)
        dP -= (dP * P).sum(-1, keepdims=True)  # dS = P (dP - rowsum(dP P)), in place
        dP *= P
        dq = dP @ k
        dq *= scale
        dk = dP.swapaxes(-1, -2) @ q
        dk *= scale
        dqkv = np.stack([dq, dk, dv]).transpose(1, 3, 0, 2, 4).reshape(B * T, 3 * C)
        grads[p + "attn.c_attn.weight"] += dqkv.T @ a
        grads[p + "attn.c_attn.bias"] += dqkv.sum(0)
        da = dqkv @ w[p + "attn.c_attn.weight"]
        dx, grads[p + "ln_1.weight"], grads[p + "ln_1.bias"] = _layer_norm_backward(
            da, w[p + "ln_1.weight"], ln1)
        return dx + dx1


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


class NumpyLSTMLM:
    """Embedding -> one-layer LSTM -> Linear -> cross-entropy, trained with plain SGD.

    ``weights``: ``encoder.weight``, ``rnn.weight_ih_l0``, ``rnn.weight_hh_l0``,
    ``rnn.bias_ih_l0``, ``rnn.bias_hh_l0``, ``decoder.weight``, ``decoder.bias``.
    """

    def __init__(self, weights: dict[str, np.ndarray], lr: float) -> None:
        self.w = {k: v.copy() for k, v in weights.items()}
        self.lr = np.float32(lr)

    def step(self, idx: np.ndarray, targets: np.ndarray) -> np.float32:
        w = self.w
        T, N = idx.shape
        Wi, Wh = w["rnn.weight_ih_l0"], w["rnn.weight_hh_l0"]
        H = Wh.shape[1]
        x = w["encoder.weight"][idx]  # (T,N,E)
        XW = x @ Wi.T + (w["rnn.bias_ih_l0"] + w["rnn.bias_hh_l0"])  # (T,N,4H), all steps
        h = np.zeros((N, H), np.float32)
        c = np.zeros((N, H), np.float32)
        hs = np.empty((T, N, H), np.float32)
        steps = []
        for t in range(T):
            a = XW[t] + h @ Wh.T
            s = _sigmoid(a)
            i, f, o = s[:, :H], s[:, H:2 * H], s[:, 3 * H:]
            g = np.tanh(a[:, 2 * H:3 * H])
            c_new = f * c + i * g
            tc = np.tanh(c_new)
            steps.append((i, f, g, o, c, tc, h))
            h, c = o * tc, c_new
            hs[t] = h
        logits = hs.reshape(T * N, H) @ w["decoder.weight"].T + w["decoder.bias"]
        loss, dz = softmax_cross_entropy(logits, targets.reshape(-1))
        dW_dec = dz.T @ hs.reshape(T * N, H)
        db_dec = dz.sum(0)
        dhs = (dz @ w["decoder.weight"]).reshape(T, N, H)
        dA = np.empty((T, N, 4 * H), np.float32)
        dh = np.zeros((N, H), np.float32)
        dc = np.zeros((N, H), np.float32)
        for t in reversed(range(T)):  # back through time
            i, f, g, o, c_prev, tc, _ = steps[t]
            dh = dh + dhs[t]
            do = dh * tc
            dc = dc + dh * o * (1 - tc * tc)
            dA[t] = np.concatenate([dc * g * i * (1 - i), dc * c_prev * f * (1 - f),
                                    dc * i * (1 - g * g), do * o * (1 - o)], axis=1)
            dc = dc * f
            dh = dA[t] @ Wh
        flat = dA.reshape(T * N, 4 * H)
        h_prev = np.concatenate([np.zeros((1, N, H), np.float32), hs[:-1]]).reshape(T * N, H)
        dWi = flat.T @ x.reshape(T * N, -1)
        dWh = flat.T @ h_prev
        db = flat.sum(0)
        dx = (flat @ Wi).reshape(T * N, -1)
        d_enc = np.zeros_like(w["encoder.weight"])
        np.add.at(d_enc, idx.reshape(-1), dx)
        for name, grad in (("encoder.weight", d_enc), ("rnn.weight_ih_l0", dWi),
                           ("rnn.weight_hh_l0", dWh), ("rnn.bias_ih_l0", db),
                           ("rnn.bias_hh_l0", db), ("decoder.weight", dW_dec),
                           ("decoder.bias", db_dec)):
            w[name] -= self.lr * grad
        return loss
