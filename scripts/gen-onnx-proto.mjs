// Writes src/core/quantize/onnx-proto.json: onnx.proto (the ONNX project's schema, Apache-2.0) as a protobufjs
// JSON descriptor, read at run time by protobufjs/light — no .proto parser in the app bundle.
//   node scripts/gen-onnx-proto.mjs [path/to/onnx.proto]   (default: Debian's python3-onnx copy)
import { readFileSync, writeFileSync } from 'node:fs';
import protobuf from 'protobufjs';

const src = process.argv[2] ?? '/usr/lib/python3/dist-packages/onnx/onnx.proto';
const { root } = protobuf.parse(readFileSync(src, 'utf8'), { keepCase: true });
const out = new URL('../src/core/quantize/onnx-proto.json', import.meta.url);
writeFileSync(out, JSON.stringify(root.toJSON({ keepComments: false })) + '\n');
console.log(`wrote ${out.pathname} from ${src}`);
