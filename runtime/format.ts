// Value formatting shared by every back end: what REDUCE(x) prints.

/** C's printf("%.6g"): the prototype printed REDUCE results with iostream's default precision. */
export function formatG6(x: number): string {
  if (Number.isNaN(x)) return x < 0 ? "-nan" : "nan";
  if (!Number.isFinite(x)) return x < 0 ? "-inf" : "inf";
  if (x === 0) return Object.is(x, -0) ? "-0" : "0";
  let s = x.toExponential(5); // d.ddddde±x, correctly rounded
  const e = Number(s.slice(s.indexOf("e") + 1));
  if (e < -4 || e >= 6) {
    let [m, ex] = s.split("e");
    if (m.includes(".")) m = m.replace(/0+$/, "").replace(/\.$/, "");
    const n = Number(ex);
    return `${m}e${n < 0 ? "-" : "+"}${String(Math.abs(n)).padStart(2, "0")}`;
  }
  s = x.toFixed(Math.max(0, 5 - e));
  if (s.includes(".")) s = s.replace(/0+$/, "").replace(/\.$/, "");
  return s;
}

