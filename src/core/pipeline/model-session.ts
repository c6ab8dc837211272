// What the pipeline needs from an inference session: its inputs' and outputs' names, element types
// and shapes, and a way to run it. src/runtime implements this over onnxruntime-web; tests implement
// it with deterministic fakes. Nothing here imports onnxruntime-web.

export type ElementType = 'float32' | 'float16' | 'int32' | 'int64';

/** A tensor in host memory. float16 values are IEEE half bits in a Uint16Array. */
export type HostTensor =
  | { readonly location: 'cpu'; readonly type: 'float32'; readonly data: Float32Array; readonly dims: readonly number[] }
  | { readonly location: 'cpu'; readonly type: 'float16'; readonly data: Uint16Array; readonly dims: readonly number[] }
  | { readonly location: 'cpu'; readonly type: 'int32'; readonly data: Int32Array; readonly dims: readonly number[] }
  | { readonly location: 'cpu'; readonly type: 'int64'; readonly data: BigInt64Array; readonly dims: readonly number[] };

/** A tensor the runtime keeps on the accelerator (e.g. text embeddings reused by every UNet step). */
export interface DeviceTensor {
  readonly location: 'device';
  readonly type: ElementType;
  readonly dims: readonly number[];
  /** Give the device memory back. */
  dispose(): void;
  /** Read the values back into host memory, releasing the device copy. */
  download(): Promise<HostTensor>;
}

export type Tensor = HostTensor | DeviceTensor;

export interface IOInfo {
  readonly name: string;
  readonly type: ElementType;
  /** Static sizes as numbers; symbolic (dynamic) ones as their names. */
  readonly shape: readonly (number | string)[];
}

export interface ModelSession {
  readonly inputs: readonly IOInfo[];
  readonly outputs: readonly IOInfo[];
  /**
   * Run the network. Where each output lands is fixed when the session is created (onnxruntime-web's
   * preferredOutputLocation): outputs chosen then come back as DeviceTensors on every run, the rest in
   * host memory. A caller that needs a device output on the host downloads it.
   */
  run(feeds: Readonly<Record<string, Tensor>>): Promise<Record<string, Tensor>>;
  release(): Promise<void>;
}

export function hostTensor<T extends HostTensor['type']>(type: T, data: Extract<HostTensor, { type: T }>['data'], dims: readonly number[]): HostTensor {
  return { location: 'cpu', type, data, dims } as HostTensor;
}

export function size(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}
