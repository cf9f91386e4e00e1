"""JupyterLab, no cluster: notebook 03 with apply = False, its pool picker, the under-the-hood blocks and diagrams."""
from __future__ import annotations

import re

SUBNET = "172.19.0.1/16"


def _picker(lab, i):
    out = lab.cell(i).locator(".jp-OutputArea")
    return {"slider": out.locator(".widget-slider").first,
            "first": out.locator(".widget-text", has_text="first").locator("input").first,
            "size": out.locator(".widget-text", has_text="size").locator("input").first,
            "status": out.locator(".widget-html").last}


def _status(p) -> str:
    return p["status"].inner_text().strip()


def test_03_picker_in_jupyterlab(lab):
    lab.open("03_address_pool.ipynb")
    params = lab.find("apply = True")
    # as the notebook says: apply = False and a subnet explore the planning with no Docker and no cluster
    lab.type_at_end(params, f'\napply = False\nsubnet = "{SUBNET}"\n')
    lab.run_all(timeout=240)
    lab.shot("03-run-all")

    pick = lab.find("kh.pool.picker(")
    failed = lab.errors()
    lab.expect(not failed, failed[0][0] if failed else pick, "no error output anywhere after Run All Cells",
               failed[0][1] if failed else "")

    # the picker renders: slider, first/size boxes, and a green validation of the planned pool
    p = _picker(lab, pick)
    p["slider"].wait_for(timeout=30_000)
    lab.expect(p["first"].is_visible() and p["size"].is_visible(), pick, "the picker's first and size boxes")
    status = _status(p)
    lab.expect(bool(re.match(r"✓ 172\.19\.255\.1-172\.19\.255\.250: 250 free addresses inside 172\.19\.0\.0/16", status)),
               pick, "the planned pool validated in green (✓ 172.19.255.1-172.19.255.250: 250 free addresses ...)",
               status)
    lab.shot("03-picker", lab.cell(pick))

    # moving the slider's upper handle to the end of the window (the broadcast address) -> the fix is shown
    upper = p["slider"].locator(".noUi-handle-upper")
    box, track = upper.bounding_box(), p["slider"].locator(".noUi-base").bounding_box()
    lab.page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    lab.page.mouse.down()
    lab.page.mouse.move(track["x"] + track["width"] + 40, box["y"] + box["height"] / 2, steps=8)
    lab.page.mouse.up()
    lab.page.wait_for_function("el => el.innerText.includes('broadcast')", arg=p["status"].element_handle(),
                               timeout=15_000)
    status = _status(p)
    lab.expect("✗" in status and "broadcast address 172.19.255.255" in status and "end at 172.19.255.254" in status,
               pick, "after dragging the slider to the top: ✗ ... broadcast address ... end at 172.19.255.254 ...",
               status)
    lab.shot("03-slider-broadcast", lab.cell(pick))

    # typing a range outside the subnet in the first box -> the fix is shown
    p["first"].fill("10.0.0.1")
    p["first"].press("Enter")
    lab.page.wait_for_function("el => el.innerText.includes('not inside')", arg=p["status"].element_handle(),
                               timeout=15_000)
    status = _status(p)
    lab.expect("✗" in status and "is not inside 172.19.0.0/16" in status and "pick a range inside the subnet" in status,
               pick, "after typing first = 10.0.0.1: ✗ ... is not inside 172.19.0.0/16 ... pick a range inside the subnet",
               status)
    lab.shot("03-typed-outside", lab.cell(pick))

    # the next cell refuses the bad choice, in one line (no traceback)
    nxt = lab.find("picker.validated()")
    lab.run_cell(nxt)
    err = lab.cell(nxt).locator(".jp-OutputArea-output").inner_text().strip()
    lab.expect(err.startswith("PoolError: pool 10.0.0.1-") and "not inside 172.19.0.0/16" in err, nxt,
               "a PoolError naming the bad range and the subnet", err)
    lab.expect(len(err.splitlines()) == 1, nxt, "the refusal in one line, no traceback", err)
    lab.shot("03-refused", lab.cell(nxt))

    # a good choice typed back is taken again
    p["first"].fill("172.19.255.10")
    p["first"].press("Enter")
    p["size"].fill("20")
    p["size"].press("Enter")
    lab.page.wait_for_function("el => el.innerText.includes('172.19.255.10-172.19.255.29')",
                               arg=p["status"].element_handle(), timeout=15_000)
    lab.run_cell(nxt)
    out = lab.output_text(nxt).strip()
    lab.expect("172.19.255.10-172.19.255.29" in out, nxt, "the typed pool 172.19.255.10-172.19.255.29 taken", out)
    lab.expect(not lab.console_errors or not any("widget" in e.lower() for e in lab.console_errors), pick,
               "no widget error in the browser console", " | ".join(lab.console_errors))


def _visible_svg(lab, i) -> dict:
    """The first SVG (inline or as an image) in cell I's output: its rendered size."""
    return lab.cell(i).locator(".jp-OutputArea").evaluate("""out => {
        const img = out.querySelector('.jp-RenderedSVG img, .jp-RenderedImage img');
        const svg = out.querySelector('.jp-RenderedSVG svg');
        const el = svg || img;
        if (!el) return {found: false};
        el.scrollIntoView();
        const r = el.getBoundingClientRect();
        const style = getComputedStyle(el);
        return {found: true, tag: el.tagName, width: r.width, height: r.height,
                natural: img ? img.naturalWidth : null, visible: style.visibility !== 'hidden' && style.display !== 'none',
                texts: svg ? svg.querySelectorAll('text').length : null};
    }""")


def test_diagrams_and_hood_blocks(lab):
    # 00's diagram: only the cells a learner runs first (the parameters, then the import and the diagram)
    lab.open("00_prerequisites.ipynb")
    params = lab.find("create_if_missing = True")
    lab.run_cell(params)
    dia = lab.find('kh.diagrams.diagram("kind-metallb")')
    lab.run_cell(dia)
    seen = _visible_svg(lab, dia)
    lab.expect(seen.get("found") and seen["visible"] and seen["width"] > 300 and seen["height"] > 100
               and ((seen["texts"] or 0) > 5 or (seen["natural"] or 0) > 300), dia, "the kind-metallb diagram visible (an SVG > 300x100 px with its labels, or as an image with pixels)",
               str(seen))
    lab.shot("00-diagram", lab.cell(dia))
    lab.cell(0).scroll_into_view_if_needed()
    lab.shot("00-first-view")  # what a learner sees first (the README's screenshot)

    # 03 with apply = False: the figure of the subnet is an image with pixels; the under-the-hood block of what
    # apply would do (a cell a learner may add: the helper is pure) opens and closes
    lab.open("03_address_pool.ipynb")
    lab.type_at_end(lab.find("apply = True"), f'\napply = False\nsubnet = "{SUBNET}"\n')
    lab.run_all(timeout=240)
    fig = lab.find("kh.pool.figure(")
    img = lab.cell(fig).locator(".jp-OutputArea img").first
    img.scroll_into_view_if_needed()
    natural = img.evaluate("i => i.complete ? i.naturalWidth : 0")
    box = img.bounding_box() or {"width": 0, "height": 0}
    lab.expect(natural > 0 and box["width"] > 200 and box["height"] > 50, fig,
               "the subnet figure rendered (naturalWidth > 0, > 200x50 px)", f"naturalWidth={natural} box={box}")

    last = lab.cells().count() - 1
    new = lab.add_cell_below(last, 'import kindlb_helpers._core.hood as hood; '
                                   'hood.apply_steps(cluster, objects, "metallb-config.yaml", "the pool")')
    lab.run_cell(new)
    hood = lab.cell(new).locator("details.kindlb-hood, .jp-OutputArea details").first
    hood.wait_for(timeout=15_000)
    summary = hood.locator("summary").first
    pre = hood.locator("pre").first
    lab.expect(hood.evaluate("d => d.open") and pre.is_visible() and "kubectl" in pre.inner_text(), new,
               "the under-the-hood block open at first, its kubectl commands visible", hood.inner_text())
    lab.shot("03-hood-open", lab.cell(new))
    summary.click()
    lab.expect(not hood.evaluate("d => d.open") and not pre.is_visible(), new,
               "the block closed after a click on its summary")
    lab.shot("03-hood-closed", lab.cell(new))
    summary.click()
    lab.expect(hood.evaluate("d => d.open") and pre.is_visible(), new, "the block open again after a second click")
    # the file inside it (the YAML applied) is a nested block, closed until clicked
    inner = hood.locator("details").first
    lab.expect(not inner.evaluate("d => d.open"), new, "the YAML file's block closed at first")
    inner.locator("summary").click()
    yaml_text = inner.locator("pre").inner_text()
    lab.expect(inner.evaluate("d => d.open") and "IPAddressPool" in yaml_text and "172.19.255.1" in yaml_text, new,
               "the YAML block open after a click, showing the IPAddressPool for 172.19.255.1-...", yaml_text)
    lab.shot("03-hood-yaml", lab.cell(new))
