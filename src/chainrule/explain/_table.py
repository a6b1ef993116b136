"""``Explanation``: the rows of ``cr.explain`` printed as a text table or an HTML table."""

from __future__ import annotations

import html
from collections.abc import Iterator

from chainrule.autograd.rules import format_shape
from chainrule.explain._rows import Row, _norm_text
from chainrule.tensor import Tensor

_HEAD = ("#", "op", "inputs", "output", "|dY|", "backward rules (with shapes)")


class Explanation:
    """The backward pass of one tensor's graph, step by step (see :func:`explain`).

    ``rows`` holds the data (a list of :class:`Row`); ``str()`` is an aligned text table,
    ``_repr_html_`` an HTML table (Jupyter shows it).
    """

    def __init__(self, tensor: Tensor, rows: list[Row]) -> None:
        self.rows = rows
        self.shape = tuple(tensor.shape)
        self.grad_fn = tensor.grad_fn.name() if tensor.grad_fn is not None else None

    def __iter__(self) -> Iterator[Row]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> Row:
        return self.rows[i]

    @property
    def has_norms(self) -> bool:
        """Whether any gradient norm is known (after a backward that recorded them)."""
        return any(v is not None for r in self.rows for v in r.grad_norms)

    def _title(self) -> str:
        what = f"tensor of shape {format_shape(self.shape)}"
        if self.grad_fn is not None:
            what += f", grad_fn=<{self.grad_fn}>"
        if not self.rows:
            return f"{what}: does not require grad, so there is no backward pass"
        n = len(self.rows)
        steps = "1 step" if n == 1 else f"{n} steps"
        return f"backward pass of {what}: {steps}, in the order backward visits them"

    def _footer(self) -> str:
        if not self.rows or self.has_norms:
            return ""
        return ("|dY|: norm of the gradient reaching each output, shown after .backward() "
                "(when chainrule.autograd.engine.record_grad_norms is True)")

    def _cells(self, row: Row) -> list[list[str]]:
        rules = [str(r) for r in row.rules if r.needed] or [str(r) for r in row.rules]
        return [
            [str(row.step)],
            [row.op],
            [str(o) for o in row.inputs],
            [format_shape(s) for s in row.output_shapes],
            [_norm_text(v) for v in row.grad_norms],
            rules + row.notes,
        ]

    def __str__(self) -> str:
        lines = [self._title()]
        if self.rows:
            table = [[[h] for h in _HEAD]] + [self._cells(r) for r in self.rows]
            widths = [max(len(line) for row in table for line in row[c]) for c in range(6)]
            for k, row in enumerate(table):
                height = max(len(cell) for cell in row)
                for h in range(height):
                    parts = []
                    for c, cell in enumerate(row):
                        text = cell[h] if h < len(cell) else ""
                        parts.append(text.rjust(widths[c]) if c in (0, 4) else
                                     text.ljust(widths[c]))
                    lines.append("  ".join(parts).rstrip())
                if k == 0:
                    lines.append("  ".join("-" * w for w in widths))
        footer = self._footer()
        if footer:
            lines.append(footer)
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        esc = html.escape
        out = ['<table class="chainrule-explain">',
               f"<caption>{esc(self._title())}</caption>"]
        if self.rows:
            out.append("<thead><tr>" + "".join(
                f'<th style="text-align:left">{esc(h)}</th>' for h in _HEAD) +
                "</tr></thead><tbody>")
            for row in self.rows:
                cells = self._cells(row)
                tds = []
                for c, cell in enumerate(cells):
                    body = "<br>".join(esc(x) for x in cell)
                    if c == 5:  # rules: monospace, their double spaces kept
                        body = "<br>".join(f'<code style="white-space:pre">{esc(x)}</code>'
                                           for x in cell)
                    align = "right" if c in (0, 4) else "left"
                    tds.append(f'<td style="text-align:{align};vertical-align:top">{body}</td>')
                out.append(f'<tr class="{row.kind}">' + "".join(tds) + "</tr>")
            out.append("</tbody>")
        footer = self._footer()
        if footer:
            out.append(f'<tfoot><tr><td colspan="6">{esc(footer)}</td></tr></tfoot>')
        out.append("</table>")
        return "\n".join(out)
