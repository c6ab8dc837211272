const MB = 1024 * 1024;

/** Bytes as a person reads them: "6.6 MB", "1.70 GB". */
export function formatBytes(n: number): string {
  return n >= 1024 * MB ? `${(n / (1024 * MB)).toFixed(2)} GB` : `${(n / MB).toFixed(1)} MB`;
}
