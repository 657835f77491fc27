"""Embedding: one script on any page, one global, styles sealed in both directions."""

import pytest

# A host page that does its worst to everything it can reach.
HOSTILE_CSS = """
* { all: unset !important; }
html { font-size: 8px !important; }
body { font: italic 30px/5 "Comic Sans MS", cursive !important; color: red !important;
       letter-spacing: 6px !important; text-transform: uppercase !important;
       visibility: visible !important; }
div { display: none !important; }
button, textarea { background: red !important; width: 300px !important; font-size: 40px !important; }
svg, p, h2, a { display: none !important; }
[hidden] { display: block !important; }
body > * { opacity: 0.5 !important; }
"""


def test_the_only_new_global_is_carechat(embed):
    widget = embed()
    added = widget.page.evaluate(
        "() => Object.getOwnPropertyNames(window).filter("
        "k => !window.__baseline.includes(k) && k !== '__baseline' && k !== '__styleElements')"
    )
    assert added == ["CareChat"]
    assert widget.page.evaluate("() => Object.isFrozen(CareChat)")
    assert widget.page.evaluate("() => Object.keys(CareChat).sort()") == [
        "close", "defaults", "init", "open", "setUser", "version",
    ]


def test_everything_lives_in_one_shadow_root(embed):
    widget = embed()
    page = widget.page
    assert page.evaluate("() => document.querySelectorAll('carechat-widget').length") == 1
    assert page.evaluate("() => document.querySelector('carechat-widget').shadowRoot !== null")
    # Nothing else was added to the page, in particular no <style> or <link> in <head>.
    assert page.evaluate("() => document.querySelectorAll('style, link[rel=stylesheet]').length") == \
        page.evaluate("() => window.__styleElements")
    assert page.evaluate("() => document.body.lastElementChild.tagName") == "CARECHAT-WIDGET"
    # Every class inside is namespaced.
    classes = widget.shadow(
        "[...root.querySelectorAll('[class]')].flatMap(e => [...e.classList])"
    )
    assert classes and all(name.startswith("cc-") for name in classes)


def test_host_page_styles_do_not_reach_the_widget(embed):
    widget = embed(css=HOSTILE_CSS)
    launcher = widget.get("cc-launcher")
    box = launcher.bounding_box()
    assert (round(box["width"]), round(box["height"])) == (56, 56)
    assert box["x"] + box["width"] == pytest.approx(1280 - 20, abs=1)
    style = launcher.evaluate(
        "e => { const s = getComputedStyle(e); return [s.backgroundColor, s.borderRadius, s.position]; }"
    )
    assert style == ["rgb(31, 95, 191)", "50%", "fixed"]
    assert widget.get("cc-panel").is_hidden()  # the page's [hidden] rule does not reach in

    widget.open()
    panel = widget.get("cc-panel").bounding_box()
    assert (round(panel["width"]), round(panel["height"])) == (370, 600)
    greeting = widget.messages("bot").first.locator(".cc-bubble")
    font = greeting.evaluate(
        "e => { const s = getComputedStyle(e);"
        " return [s.fontSize, s.fontStyle, s.textTransform, s.letterSpacing, s.color, s.opacity]; }"
    )
    assert font == ["14px", "normal", "none", "normal", "rgb(29, 35, 48)", "1"]
    assert "Comic" not in greeting.evaluate("e => getComputedStyle(e).fontFamily")
    assert widget.get("cc-send").evaluate("e => getComputedStyle(e).width") == "40px"
    assert widget.get("cc-input").is_visible()


def test_widget_styles_do_not_leak_into_the_page(embed):
    widget = embed()
    # The host page has its own element with the widget's class names: it stays untouched.
    host_button = widget.page.locator("#host-button")
    style = host_button.evaluate(
        "e => { const s = getComputedStyle(e); return [s.position, s.borderRadius, s.width]; }"
    )
    assert style[0] == "static"
    assert style[1] == "0px"
    assert style[2] != "56px"
    assert widget.page.evaluate("() => getComputedStyle(document.body).fontFamily") == "Georgia, serif"


def test_one_script_tag_with_data_attributes_is_enough(embed):
    widget = embed(embed_html=(
        '<script src="/carechat.js" data-rasa-url="http://127.0.0.1:9" '
        'data-title="ACME help" data-position="left" data-open="true"></script>'
    ))
    assert widget.get("cc-panel").is_visible()
    assert widget.get("cc-panel").get_attribute("aria-label") == "ACME help"
    assert widget.get("cc-launcher").bounding_box()["x"] == pytest.approx(20, abs=1)


def test_open_option_opens_without_stealing_focus(embed):
    widget = embed("{transport: window.__ccTransport, open: true}")
    assert widget.get("cc-panel").is_visible()
    assert widget.page.evaluate("() => document.activeElement === document.body")


def test_loading_twice_or_initialising_twice_keeps_one_widget(embed):
    widget = embed(embed_html=(
        '<script src="/carechat.js"></script><script src="/carechat.js"></script>'
        "<script>CareChat.init({transport: window.__ccTransport});"
        "CareChat.init({transport: window.__ccTransport});</script>"
    ))
    assert widget.page.evaluate("() => document.querySelectorAll('carechat-widget').length") == 1


def test_bad_options_fall_back_to_defaults(embed):
    widget = embed("{transport: window.__ccTransport, position: 'middle', primaryColor: 'red; x: y'}")
    assert widget.get("cc-launcher").bounding_box()["x"] > 1000  # right, the default
    color = widget.get("cc-launcher").evaluate("e => getComputedStyle(e).backgroundColor")
    assert color == "rgb(31, 95, 191)"


def test_light_primary_colour_gets_dark_text(embed):
    widget = embed("{transport: window.__ccTransport, primaryColor: '#ffd400'}")
    launcher = widget.get("cc-launcher")
    assert launcher.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(255, 212, 0)"
    assert launcher.evaluate("e => getComputedStyle(e).color") == "rgb(17, 24, 39)"
