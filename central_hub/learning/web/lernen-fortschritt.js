// What this browser keeps of a pupil (localStorage), and nothing leaves it unless the pupil
// asks: the last ten attempts per exercise, the last fifty per exercise set in order (the set's
// mastery: m right of the last n, the rule the hub applies to a class), the answers waiting
// for the hub, and a class membership the pupil opted into. The progress code carries the
// attempts to another device.

const STORE = "lernhilfe.fortschritt";
const SETS = "lernhilfe.saetze";
const QUEUE = "lernhilfe.warteschlange";
const CLASS = "lernhilfe.klasse";
const CODE_PREFIX = "LH1.";
const MAX_CODE = 200_000;
const MAX_QUEUE = 200;
const ADDRESS = /^[a-z0-9][a-z0-9-]{0,79}\.[a-z0-9][a-z0-9-]{0,79}$/;
const ITEM = /^[a-z0-9][a-z0-9-]{0,79}$/;

function read(key, empty) {
  try { return JSON.parse(localStorage.getItem(key)) ?? empty; } catch { return empty; }
}
const write = (key, value) => localStorage.setItem(key, JSON.stringify(value));

export const progress = () => read(STORE, {});
export const sets = () => read(SETS, {});

export function remember(exercise, correct) {
  const all = progress(), bySet = sets(), item = exercise.split(".")[0];
  all[exercise] = (all[exercise] || []).concat(correct ? 1 : 0).slice(-10);
  bySet[item] = (bySet[item] || []).concat(correct ? 1 : 0).slice(-50);
  write(STORE, all);
  write(SETS, bySet);
}

export function mastered(item) {
  const { correct, of } = item.mastery;
  const last = (sets()[item.id] || []).slice(-of);
  return last.length >= of && last.filter((t) => t === 1).length >= correct;
}

// -- the progress code --------------------------------------------------------------------

const tries = (v, most) => Array.isArray(v) && v.length <= most && v.every((t) => t === 0 || t === 1);

function valid(data) {
  const map = (value, key, most) => value && typeof value === "object" && !Array.isArray(value) &&
    Object.entries(value).every(([k, v]) => key.test(k) && tries(v, most));
  return data && data.v === 1 && map(data.e, ADDRESS, 10) && map(data.s, ITEM, 50);
}

async function squeeze(data, stream) {
  return new Uint8Array(await new Response(new Blob([data]).stream().pipeThrough(stream)).arrayBuffer());
}

export async function progressCode() {
  const packed = await squeeze(JSON.stringify({ v: 1, e: progress(), s: sets() }), new CompressionStream("deflate-raw"));
  let binary = "";
  for (const byte of packed) binary += String.fromCharCode(byte);
  return CODE_PREFIX + btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

// take a code's progress over (its exercises and sets replace this browser's); returns how
// many exercises it held, or throws with a message for the pupil
export async function takeProgressCode(code) {
  const text = code.replace(/\s+/g, "");
  if (!text.startsWith(CODE_PREFIX) || text.length > MAX_CODE) throw new Error("Das ist kein Fortschritts-Code der Lernhilfe.");
  let data;
  try {
    const binary = atob(text.slice(CODE_PREFIX.length).replace(/-/g, "+").replace(/_/g, "/"));
    const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
    data = JSON.parse(new TextDecoder().decode(await squeeze(bytes, new DecompressionStream("deflate-raw"))));
  } catch {
    data = null;
  }
  if (!valid(data)) throw new Error("Dieser Code ist nicht vollständig oder verschrieben. Kopiere ihn bitte noch einmal.");
  write(STORE, { ...progress(), ...data.e });
  write(SETS, { ...sets(), ...data.s });
  return Object.keys(data.e).length;
}

// -- answers waiting for the hub ------------------------------------------------------------

export const queued = () => read(QUEUE, []);

// ``counted``: judged here already, sent only so that it counts for the pupil's class
export function enqueue(exercise, answer, counted = false) {
  const waiting = queued().filter((q) => q.counted || q.exercise !== exercise);
  write(QUEUE, waiting.concat({ exercise, answer, ...(counted ? { counted } : {}) }).slice(-MAX_QUEUE));
}

// the oldest entry was dealt with (unless the pupil replaced it meanwhile)
export function dropOldest(entry) {
  const waiting = queued();
  if (waiting.length && JSON.stringify(waiting[0]) === JSON.stringify(entry)) write(QUEUE, waiting.slice(1));
}

// -- the class the pupil opted into ------------------------------------------------------

export const membership = () => read(CLASS, null);
export const joined = (m) => write(CLASS, m);
export const left = () => localStorage.removeItem(CLASS);
