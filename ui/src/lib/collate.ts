// One shared collator: `localeCompare(b, undefined, { numeric: true })`
// builds a collator per call, which costs milliseconds when 49 pools or 98
// anomalies are sorted on every snapshot.
const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });

/** "pg2" before "pg10". */
export const naturalCompare = (a: string, b: string): number => collator.compare(a, b);
