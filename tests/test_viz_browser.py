"""The HTML viewer in a real headless Chromium (Debian's chromium + chromium-driver, via selenium).

Pages are opened from file:// URLs; Chromium runs with its background networking off and every
host name mapped to nowhere, so the page can only work if it is really self-contained.
Screenshots are kept as test artifacts in $MCTS_REASON_ARTIFACTS (default: build/test-artifacts).
"""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import networkx as nx
import pytest

from mcts_reason import Budget, solve
from mcts_reason.budget import Usage
from mcts_reason.components import make_value
from mcts_reason.search.common import SearchResult
from mcts_reason.tree import WIN, Node, principal_path
from mcts_reason.viz import tree_graph, write_tree
from mcts_reason_puzzles.game24 import Game24

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install -e '.[dev]')")
if not (os.access(CHROMIUM, os.X_OK) and os.access(DRIVER, os.X_OK)):
    pytest.skip("Chromium is missing: apt-get install chromium chromium-driver (.ci/run does this)",
                allow_module_level=True)

from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

ARTIFACTS = Path(os.environ.get("MCTS_REASON_ARTIFACTS",
                                Path(__file__).resolve().parent.parent / "build" / "test-artifacts"))
INITIAL_DEPTH = 1   # the viewer's documented default: depth < 1 expanded, plus the principal line


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tmp_path_factory.mktemp("chromium-profile")
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run",
                "--disable-extensions", "--disable-dev-shm-usage",
                "--host-resolver-rules=MAP * ~NOTFOUND", f"--user-data-dir={profile}",
                "--window-size=1400,860"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    try:
        driver = webdriver.Chrome(options=options, service=Service(DRIVER))
    except Exception as e:  # a broken local install is a skip with the reason, not a crash
        pytest.skip(f"cannot start headless Chromium: {type(e).__name__}: {str(e).splitlines()[0]}")
    yield driver
    driver.quit()


def _open(driver, path: Path, fragment: str = "") -> None:
    driver.get("about:blank")
    driver.get(path.resolve().as_uri() + fragment)
    WebDriverWait(driver, 20).until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "1")


def _visible_ids(driver) -> set[int]:
    return {int(v) for v in driver.execute_script(
        "return [...document.querySelectorAll('#tree g.node')].map(g => g.dataset.id)")}


def _expected_visible(g: nx.DiGraph, expanded: set[int]) -> set[int]:
    """Reference: the root, plus the children of every visible expanded node."""
    out, stack = set(), [0]
    while stack:
        v = stack.pop()
        out.add(v)
        if v in expanded:
            stack.extend(g.successors(v))
    return out


def _default_expanded(g: nx.DiGraph) -> set[int]:
    return {v for v, a in g.nodes(data=True)
            if g.out_degree(v) and (a["depth"] < INITIAL_DEPTH or a["principal"])}


def _no_console_errors(driver) -> None:
    severe = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert not severe, severe


@pytest.fixture(scope="module")
def real_search(tmp_path_factory):
    puzzle = Game24()
    result = solve(puzzle, "3 3 8 8", value=make_value(puzzle, "constant"),
                   budget=Budget(simulations=3000), seed=0)
    assert result.solved
    path = write_tree(result, puzzle, tmp_path_factory.mktemp("viz") / "tree.html")
    return result, tree_graph(result, puzzle), path


def test_viewer_on_a_real_search(browser, real_search):
    result, g, path = real_search
    _open(browser, path)
    _no_console_errors(browser)
    # Nothing was fetched: no sub-resources at all.
    assert browser.execute_script("return performance.getEntriesByType('resource').length") == 0

    expanded = _default_expanded(g)
    visible = _expected_visible(g, expanded)
    assert 1 < len(visible) < g.number_of_nodes()        # deep levels start collapsed
    assert _visible_ids(browser) == visible
    assert browser.find_element(By.ID, "visible-count").text == str(len(visible))

    # The solution path: highlighted nodes are exactly the verified steps, and drawn as one line.
    solution = [n.order for n in principal_path(result.root)]
    assert {int(e.get_attribute("data-id")) for e in browser.find_elements(By.CSS_SELECTOR, "g.node.solution")} == set(solution)
    sol_d = browser.find_element(By.CSS_SELECTOR, "path.edges.solution").get_attribute("d")
    assert sol_d.count("M") == len(solution) - 1
    texts = [browser.find_element(By.CSS_SELECTOR, f'g.node[data-id="{v}"] title').get_attribute("textContent").split("\n")[0]
             for v in solution[1:]]
    assert tuple(texts) == result.steps

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "viz-initial.png"))

    # Click a collapsed node off the solution path: it opens, and the panel shows its statistics.
    target = max((v for v in visible if v not in expanded and g.out_degree(v)),
                 key=lambda v: (g.out_degree(v), -v))
    browser.find_element(By.CSS_SELECTOR, f'g.node[data-id="{target}"] circle.dot').click()
    after = _expected_visible(g, expanded | {target})
    assert len(after) == len(visible) + g.out_degree(target)
    assert _visible_ids(browser) == after
    a = g.nodes[target]
    detail = {k: browser.find_element(By.ID, f"detail-{k}").text
              for k in ("step", "state", "visits", "value", "prior", "status", "depth", "order", "children")}
    assert detail == {"step": a["step"], "state": a["state"], "visits": str(a["visits"]),
                      "value": f"{a['value']:.4f}" if a["visits"] else "– (not visited)", "prior": f"{a['prior']:.4f}", "status": a["status"],
                      "depth": str(a["depth"]), "order": str(target), "children": str(g.out_degree(target))}
    path_items = [li.text for li in browser.find_elements(By.CSS_SELECTOR, "#detail-path li")]
    assert path_items == [g.nodes[0]["state"], a["step"]]
    browser.save_screenshot(str(ARTIFACTS / "viz-clicked.png"))

    # A second click collapses it again.
    browser.find_element(By.CSS_SELECTOR, f'g.node[data-id="{target}"] circle.dot').click()
    assert _visible_ids(browser) == visible
    _no_console_errors(browser)


def test_search_box_finds_hidden_steps(browser, real_search):
    result, g, path = real_search
    _open(browser, path)
    shown = _visible_ids(browser)
    hidden = min(v for v in g.nodes if v not in shown)
    query = g.nodes[hidden]["step"].split(" (")[0]   # e.g. "3 * 3 = 9"
    hits = sorted(v for v, a in g.nodes(data=True) if query.lower() in a["step"].lower())
    assert hidden in hits and not set(hits) <= shown
    box = browser.find_element(By.ID, "search")
    box.send_keys(query)
    count = f"{len(hits)} match" + ("" if len(hits) == 1 else "es")
    WebDriverWait(browser, 5).until(lambda d: d.find_element(By.ID, "search-count").text == count)
    assert len(browser.find_elements(By.CSS_SELECTOR, "#search-results li")) == len(hits)
    box.send_keys(Keys.ENTER)    # go to the first match: its ancestors open, the panel shows it
    WebDriverWait(browser, 5).until(lambda d: d.find_element(By.ID, "detail-order").text == str(hits[0]))
    assert hits[0] in _visible_ids(browser)
    assert "match" in browser.find_element(By.CSS_SELECTOR, f'g.node[data-id="{hits[0]}"]').get_attribute("class").split()
    assert browser.find_element(By.ID, "detail-step").text == g.nodes[hits[0]]["step"]
    # A link can name a hidden node: it opens with that node revealed and shown in the panel.
    _open(browser, path, f"#node={hidden}")
    assert browser.find_element(By.ID, "detail-order").text == str(hidden)
    assert hidden in _visible_ids(browser)


class Synthetic:
    name = "synthetic"

    def render(self, state):
        return f"state {state}"

    def render_step(self, state, step):
        return f"step {step} from {state}"


def _big_tree(fanout: int = 10, depth: int = 4) -> SearchResult:
    """A complete tree: 1 + 10 + 100 + 1,000 + 10,000 = 11,111 nodes, one winning leaf."""
    root = Node("r")
    level, order = [root], 1
    for _ in range(depth):
        nxt = []
        for parent in level:
            for i in range(fanout):
                child = Node(f"{parent.state}.{i}", step=f"{parent.state}.{i}", parent=parent,
                             prior=1 / fanout, order=order)
                order += 1
                child.visits = max(0, fanout - i - 1)
                child.value_sum = child.visits * (i / fanout)
                parent.children.append(child)
                nxt.append(child)
        level = nxt
    win = level[-1]
    for n in win.path():
        n.status = WIN
    root.visits = sum(c.visits for c in root.children) + 1
    return SearchResult(puzzle="synthetic", instance="big", algo="mcts", solved=True, answer="x",
                        steps=tuple(n.step for n in win.path()[1:]), usage=Usage(),
                        stop_reason="solved", root=root)


def test_ten_thousand_nodes_stay_responsive(browser, tmp_path):
    result = _big_tree()
    path = write_tree(result, Synthetic(), tmp_path / "big.html")
    g = tree_graph(result, Synthetic())
    assert g.number_of_nodes() == 11111
    start = time.perf_counter()
    _open(browser, path)
    load_s = time.perf_counter() - start
    visible = _expected_visible(g, _default_expanded(g))
    assert _visible_ids(browser) == visible and len(visible) == 1 + 4 * 10
    render_ms = float(browser.find_element(By.ID, "tree").get_attribute("data-render-ms"))
    # Generous bounds for a shared 2-core machine; a renderer that drew all 11,111 nodes or
    # laid them out quadratically would still blow them.
    assert load_s < 10 and render_ms < 500, (load_s, render_ms)
    t0 = time.perf_counter()
    browser.find_element(By.ID, "btn-expand").click()        # one level more: +27 * 10 nodes
    WebDriverWait(browser, 10).until(lambda d: int(d.find_element(By.ID, "visible-count").text) > len(visible))
    n_after = int(browser.find_element(By.ID, "visible-count").text)
    expanded_more = _default_expanded(g) | {v for v in visible if g.out_degree(v)}
    assert n_after == len(_expected_visible(g, expanded_more))
    assert time.perf_counter() - t0 < 5
    # Search runs over all nodes, shown or not.
    box = browser.find_element(By.ID, "search")
    box.send_keys("step r.9.9.9")
    WebDriverWait(browser, 5).until(lambda d: d.find_element(By.ID, "search-count").text == "11 matches")
    _no_console_errors(browser)
    browser.save_screenshot(str(ARTIFACTS / "viz-11k.png"))
