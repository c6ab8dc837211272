// A forward-only reader over a stream of byte chunks: a file read from disk, a folder picked in the
// browser, a download as it arrives. It holds at most the bytes asked for in one read (plus one chunk),
// so a multi-gigabyte file goes through in pieces.

export class ByteStream {
  private chunk: Uint8Array = new Uint8Array(0);
  private at = 0;
  private consumed = 0;
  private readonly it: AsyncIterator<Uint8Array>;

  constructor(chunks: AsyncIterable<Uint8Array>, readonly size: number) {
    this.it = chunks[Symbol.asyncIterator]();
  }

  /** Bytes read or skipped so far. */
  get position(): number {
    return this.consumed;
  }

  private async fill(): Promise<boolean> {
    while (this.at >= this.chunk.length) {
      const next = await this.it.next();
      if (next.done) return false;
      // A plain view (Node's Buffer is a Uint8Array whose slice() does not copy).
      this.chunk = new Uint8Array(next.value.buffer, next.value.byteOffset, next.value.byteLength);
      this.at = 0;
    }
    return true;
  }

  /** Exactly `n` bytes (a copy when they span chunks, a view otherwise). */
  async read(n: number): Promise<Uint8Array> {
    if (n === 0) return new Uint8Array(0);
    if (!(await this.fill())) throw truncated(this.consumed, n);
    if (this.chunk.length - this.at >= n) {
      const view = this.chunk.subarray(this.at, this.at + n);
      this.at += n;
      this.consumed += n;
      return view;
    }
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      if (!(await this.fill())) throw truncated(this.consumed, n - filled);
      const take = Math.min(n - filled, this.chunk.length - this.at);
      out.set(this.chunk.subarray(this.at, this.at + take), filled);
      this.at += take;
      this.consumed += take;
      filled += take;
    }
    return out;
  }

  async skip(n: number): Promise<void> {
    let left = n;
    while (left > 0) {
      if (!(await this.fill())) throw truncated(this.consumed, left);
      const take = Math.min(left, this.chunk.length - this.at);
      this.at += take;
      this.consumed += take;
      left -= take;
    }
  }

  /** A protobuf base-128 varint. */
  async varint(): Promise<number> {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      const b = (await this.read(1))[0]!;
      result += (b & 0x7f) * scale;
      if (b < 0x80) return result;
      scale *= 128;
    }
    throw new Error('malformed varint');
  }

  /** A varint's bytes as they are (re-encoding a negative int64 from a JS number would lose it). */
  async rawVarint(): Promise<Uint8Array> {
    const out: number[] = [];
    for (let i = 0; i < 10; i++) {
      const b = (await this.read(1))[0]!;
      out.push(b);
      if (b < 0x80) return Uint8Array.from(out);
    }
    throw new Error('malformed varint');
  }

  async close(): Promise<void> {
    await this.it.return?.();
  }
}

/** The stream ended before the bytes its content announced: a damaged or incomplete file. */
export class StreamEndedError extends Error {}

function truncated(at: number, wanted: number): Error {
  return new StreamEndedError(`the file ends early: ${wanted} more bytes were expected after byte ${at}`);
}

/** Chunks of a Uint8Array (tests, and bytes already in memory). */
export async function* chunksOf(bytes: Uint8Array, size = 4 << 20): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, Math.min(bytes.length, i + size));
}

/** Chunks of a web ReadableStream (File.stream(), a fetch body). */
export async function* chunksOfStream(stream: ReadableStream<Uint8Array>): AsyncGenerator<Uint8Array> {
  const reader = stream.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      yield value;
    }
  } finally {
    reader.releaseLock();
  }
}
