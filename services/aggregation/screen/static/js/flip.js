/** Flip-style counter: each digit folds over like a split-flap board when its value changes. */
import { el } from "./dom.js";
import { groupDigits } from "./format.js";

function digitNode(ch) {
  if (ch === ",") return el("span", { class: "sep" }, ",");
  // each half holds the whole glyph, offset and clipped, so the halves always line up
  const half = (cls) => el("span", { class: cls }, el("b", {}, ch));
  const node = el("div", { class: "digit" }, half("top"), half("bottom"), half("ftop"), half("fbottom"));
  node.lastChild.addEventListener("animationend", () => {
    // at rest every half shows the new digit: the flaps spring back unrotated once the class goes
    const now = node.children[0].firstChild.textContent;
    for (const half of node.children) half.firstChild.textContent = now;
    node.classList.remove("flipping");
  });
  return node;
}

function flip(node, from, to) {
  const [top, bottom, ftop, fbottom] = [...node.children].map((half) => half.firstChild);
  top.textContent = to;
  bottom.textContent = from;
  ftop.textContent = from;
  fbottom.textContent = to;
  node.classList.remove("flipping");
  void node.offsetWidth; // restart the animation even if the previous flip is still running
  node.classList.add("flipping");
}

export class FlipCounter {
  constructor(root, card) {
    this.root = root;
    this.card = card;
    this.text = null;
  }

  /** Show `value`; animates the digits that changed (and glows the card) unless it is the first value. */
  set(value) {
    const text = groupDigits(value);
    if (text === this.text) return;
    const previous = this.text;
    this.text = text;
    this.card.dataset.value = String(Math.round(Number(value) || 0));
    this.card.setAttribute("aria-label", `${this.card.dataset.label} ${text}`);
    if (previous === null || previous.length !== text.length) {
      this.root.replaceChildren(...[...text].map(digitNode));
    } else {
      [...text].forEach((ch, i) => {
        if (ch !== previous[i]) flip(this.root.children[i], previous[i], ch);
      });
    }
    if (previous !== null) {
      this.card.classList.remove("bump");
      void this.card.offsetWidth;
      this.card.classList.add("bump");
    }
  }
}
