// Checking without the hub: the rules of the exercises the browser can judge (choices,
// orderings, matchings, word answers), as the hub sends them (GET …/items/{id}/offline).
// The same comparisons as the hub's checker (central_hub/learning/domain/checking.py and
// text_answers.py), with its texts, which travel with the rules; a test runs every starter
// exercise's samples through both and compares the verdicts. Numbers, terms and quantities
// have no rule here: the page queues them for the hub.

function fill(template, values) {
  return template.replace(/\{(\w+)\}/g, (_, key) => String(values[key]));
}

const chars = (text) => Array.from(text);

// Python's str.casefold for what German and English school texts hold
function casefold(text) {
  return text.toLowerCase().replace(/ß/g, "ss").replace(/ſ/g, "s").replace(/ς/g, "σ");
}

function tidy(text, caseSensitive) {
  const one = text.normalize("NFC").split(/\s+/).filter(Boolean).join(" ")
    .replace(/[’‘]/g, "'");
  return caseSensitive ? one : casefold(one);
}

// Damerau-Levenshtein distance (optimal string alignment) over code points, stopping at limit
export function editDistance(a, b, limit = 2) {
  const x = chars(a), y = chars(b);
  if (Math.abs(x.length - y.length) >= limit) return limit;
  let before = [], previous = Array.from({ length: y.length + 1 }, (_, j) => j);
  for (let i = 1; i <= x.length; i++) {
    const current = [i].concat(new Array(y.length).fill(0));
    for (let j = 1; j <= y.length; j++) {
      const cost = x[i - 1] === y[j - 1] ? 0 : 1;
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost);
      if (i > 1 && j > 1 && x[i - 1] === y[j - 2] && x[i - 2] === y[j - 1]) {
        current[j] = Math.min(current[j], before[j - 2] + 1);
      }
    }
    if (Math.min(...current) >= limit) return limit;
    before = previous; previous = current;
  }
  return Math.min(previous[y.length], limit);
}

function matchText(answer, accepted, caseSensitive, typoTolerance, minLetters) {
  const given = tidy(answer, caseSensitive);
  const candidates = accepted.map((option) => [tidy(option, caseSensitive), option]);
  if (candidates.some(([t]) => t === given)) return { matched: true };
  if (!typoTolerance) return { matched: false };
  const givenWords = given.split(" ");
  for (const [t, option] of candidates) {
    const words = t.split(" ");
    if (words.length !== givenWords.length) continue;
    let typos = 0;
    for (let n = 0; n < words.length; n++) {
      if (words[n] === givenWords[n]) continue;
      if (chars(words[n]).length >= minLetters && editDistance(words[n], givenWords[n]) === 1) typos += 1;
      else { typos = 99; break; }
    }
    if (typos === 1) return { matched: true, typo: true, intended: option };
  }
  return { matched: false };
}

const verdict = (correct, feedback, outcome, gaps) => ({ correct, feedback, outcome, ...(gaps ? { gaps } : {}) });

function checkWords(keys, spec, answer, hints) {
  const m = keys.messages;
  if (chars(answer).length > keys.max_answer_chars) return verdict(false, m.too_long, "unreadable");
  const found = matchText(answer, spec.accepted, spec.case_sensitive, spec.typo_tolerance, keys.typo_min_letters);
  if (found.matched && found.typo) return verdict(true, fill(m.typo, { intended: found.intended }), "typo");
  if (found.matched) return verdict(true, m.right, "correct");
  for (const hint of hints) {
    if (typeof hint.answer === "string" &&
        matchText(answer, [hint.answer], spec.case_sensitive, false, keys.typo_min_letters).matched) {
      return verdict(false, hint.feedback, "hint");
    }
  }
  return verdict(false, m.wrong, "wrong");
}

const sameList = (a, b) => a.length === b.length && a.every((v, n) => v === b[n]);
const sameSet = (a, b) => new Set(a).size === new Set(b).size && a.every((v) => b.includes(v));
const wanted = (hint) => (typeof hint.answer === "string" ? [hint.answer] : hint.answer);

function hintFor(rule, answer, asSet) {
  const hint = rule.hints.find((h) => (asSet ? sameSet(wanted(h), answer) : sameList(wanted(h), answer)));
  return hint ? verdict(false, hint.feedback, "hint") : null;
}

// The verdict for ``answer`` (as the hub's check route takes it) by the rule at ``address`` in
// ``keys`` (one item's offline rules); null when the browser cannot judge it.
export function checkOffline(keys, address, answer) {
  const rule = keys && keys.exercises[address];
  if (!rule) return null;
  const m = keys.messages;
  switch (rule.type) {
    case "input":
      return checkWords(keys, rule.answer, answer, rule.hints);
    case "cloze": {
      const results = rule.gaps.map((spec, n) => checkWords(keys, spec, answer[n] ?? "", []));
      const gaps = results.map((r) => r.correct);
      if (gaps.every(Boolean)) {
        const typo = results.find((r) => r.outcome === "typo");
        return verdict(true, typo ? typo.feedback : m.right, typo ? "typo" : "correct", gaps);
      }
      const hinted = hintFor(rule, answer, false);
      if (hinted) return { ...hinted, gaps };
      const wrong = gaps.flatMap((ok, n) => (ok ? [] : [String(n + 1)]));
      let feedback = fill(wrong.length === 1 ? m.gap : m.gaps, { gaps: wrong.join(", ") });
      const unreadable = results.find((r) => r.outcome === "unreadable");
      if (unreadable) feedback += " " + unreadable.feedback;
      return verdict(false, feedback, "wrong", gaps);
    }
    case "matching": {
      const right = Object.fromEntries(rule.pairs.map((p) => [p.id, p.right]));
      const mismatched = rule.pairs.filter((p, n) => right[answer[n]] !== p.right).length;
      if (!mismatched) return verdict(true, m.right, "correct");
      return hintFor(rule, answer, false) ||
        verdict(false, fill(m.pairs, { wrong: mismatched, total: answer.length }), "wrong");
    }
    case "ordering":
      if (sameList(answer, rule.order)) return verdict(true, m.right, "correct");
      return hintFor(rule, answer, false) || verdict(false, m.order, "wrong");
    default: {
      const correct = rule.correct;
      if (rule.type === "single_choice" && answer.length !== 1) return verdict(false, m.one_choice, "wrong");
      if (sameSet(answer, correct) || (rule.type === "single_choice" && correct.includes(answer[0]))) {
        return verdict(true, m.right, "correct");
      }
      const hinted = hintFor(rule, answer, true);
      if (hinted) return hinted;
      if (rule.type === "multiple_choice" && answer.every((a) => correct.includes(a)) &&
          new Set(answer).size < new Set(correct).size) {
        return verdict(false, m.missing_choices, "wrong");
      }
      return verdict(false, m.wrong, "wrong");
    }
  }
}
