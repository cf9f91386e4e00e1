"""ipywidgets pickers. A widget only views and edits a value; the next cell reads ``.validated()``."""
from __future__ import annotations

import html
import ipaddress
import traceback

from .._core.errors import PoolError
from .._core.pool import PoolRange, Reserved, as_subnet, reserved, validate_pool


class PoolPicker:
    """Pick a pool inside ``subnet`` with a range slider (over a 256-address window) or first/size boxes.

    Every change is validated at once against the subnet and the taken addresses; a bad choice
    shows the PoolError message in the widget and never becomes the value. Errors raised inside
    callbacks land in an Output widget, never silently.

    >>> p = PoolPicker("172.19.0.0/16", ["172.19.0.1"], "172.19.255.1-172.19.255.250")
    >>> str(p.validated())
    '172.19.255.1-172.19.255.250'
    """

    def __init__(self, subnet, taken=(), initial: str | PoolRange | None = None) -> None:
        import ipywidgets as w

        self.subnet = as_subnet(subnet)
        self.taken: list[Reserved] = reserved(taken)
        start = PoolRange.parse(initial) if initial is not None else None
        self.value: PoolRange | None = None
        self.error: str | None = None
        self._text = str(start) if start else ""
        self._busy = False
        make = type(self.subnet.network_address)
        self._make = make
        width = min(self.subnet.num_addresses, 256)
        anchor = int(start.first) if start and start.first in self.subnet else int(self.subnet.broadcast_address)
        base = int(self.subnet.network_address)
        self._win0 = max(base, anchor - (anchor - base) % width)
        self._width = width
        lo, hi = self._window(start) if start else (0, width - 1)
        self.slider = w.IntRangeSlider(value=(lo, hi), min=0, max=width - 1, step=1, continuous_update=False,
                                       description="window", readout=False, layout=w.Layout(width="520px"))
        self.first = w.Text(value=str(start.first) if start else "", description="first",
                            layout=w.Layout(width="300px"))
        self.size = w.BoundedIntText(value=start.size if start else 1, min=1, max=2**31 - 1, description="size",
                                     layout=w.Layout(width="200px"))
        self.status = w.HTML()
        self.output = w.Output()
        self.slider.observe(self._on_slider, names="value")
        self.first.observe(self._on_boxes, names="value")
        self.size.observe(self._on_boxes, names="value")
        head = w.HTML(f"<b>MetalLB pool in <code>{self.subnet}</code></b> &mdash; slider window "
                      f"<code>{make(self._win0)}</code> + {width}")
        self.widget = w.VBox([head, self.slider, w.HBox([self.first, self.size]), self.status, self.output])
        self._set(self._text)

    def _window(self, rng: PoolRange) -> tuple[int, int]:
        lo = min(max(int(rng.first) - self._win0, 0), self._width - 1)
        hi = min(max(int(rng.last) - self._win0, 0), self._width - 1)
        return lo, hi

    def _set(self, text: str) -> None:
        """Validate ``text``; show the result; keep the last valid range as ``value``."""
        self._text = text
        try:
            rng = validate_pool(text, self.subnet, self.taken)
        except PoolError as exc:
            self.error = str(exc)
            self.status.value = f"<span style='color:#cf222e'>&#10007; {html.escape(self.error)}</span>"
            return
        self.value, self.error = rng, None
        self.status.value = (f"<span style='color:#1a7f37'>&#10003; <code>{rng}</code>: {rng.size:,} free "
                             f"addresses inside {self.subnet}</span>")
        self._busy = True
        try:
            self.first.value, self.size.value = str(rng.first), rng.size
            self.slider.value = self._window(rng)
        finally:
            self._busy = False

    def _guarded(self, fn) -> None:
        if self._busy:
            return
        with self.output:
            try:
                fn()
            except Exception:  # shown in the Output widget, never swallowed
                traceback.print_exc()

    def _on_slider(self, change) -> None:
        lo, hi = change["new"]
        self._guarded(lambda: self._set(f"{self._make(self._win0 + lo)}-{self._make(self._win0 + hi)}"))

    def _on_boxes(self, change) -> None:
        def update() -> None:
            try:
                first = ipaddress.ip_address(self.first.value.strip())
                last = type(first)(int(first) + int(self.size.value) - 1)
            except ValueError:
                self._set(f"{self.first.value.strip()}-?")
                return
            self._set(f"{first}-{last}")

        self._guarded(update)

    def validated(self) -> PoolRange:
        """The current choice, validated again; raises PoolError if the widget shows an error."""
        return validate_pool(self._text, self.subnet, self.taken)

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)


def pool_picker(subnet, taken=(), initial=None) -> PoolPicker:
    """A :class:`PoolPicker` (display it; read ``.validated()`` in the next cell)."""
    return PoolPicker(subnet, taken, initial)
