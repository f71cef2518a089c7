// "Did you mean …": the known name a mistyped one most likely meant, by the same
// rules as the core's options: the same name in another case or spelling, one it
// begins, or one a few edits away.

/**
 * @param {string} name what was typed
 * @param {string[]} known the names that exist
 * @returns {string | undefined}
 */
export function nearest(name, known) {
  const plain = (text) => text.toLowerCase().replace(/[^\p{L}\p{N}]/gu, "");
  const wanted = plain(name);
  if (wanted === "") return undefined;
  const same = known.find((k) => plain(k) === wanted);
  if (same !== undefined) return same;
  if (wanted.length >= 4) {
    const longer = known.find((k) => plain(k).startsWith(wanted));
    if (longer !== undefined) return longer;
  }
  const allowed = Math.min(3, Math.max(1, Math.floor(wanted.length / 3)));
  let best;
  let bestDistance = Infinity;
  for (const k of known) {
    const distance = edits(plain(k), wanted);
    if (distance <= allowed && distance < bestDistance) {
      best = k;
      bestDistance = distance;
    }
  }
  return best;
}

/** Levenshtein distance. */
function edits(a, b) {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 0; i < a.length; i += 1) {
    let diagonal = row[0];
    row[0] = i + 1;
    for (let j = 0; j < b.length; j += 1) {
      const above = row[j + 1];
      row[j + 1] = Math.min(above + 1, row[j] + 1, diagonal + (a[i] === b[j] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length];
}
