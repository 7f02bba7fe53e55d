// Reading CRIU image files with protobufjs from CRIU's own .proto files
// (installed by deploy/install.sh beside the criu binary).
//
// Layout of an image file: a u32 head magic (IMG_COMMON_MAGIC, or
// IMG_SERVICE_MAGIC for service files; absent in inventory.img), a u32 magic
// naming the image type, then entries, each a u32 little-endian length
// followed by one protobuf message.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import protobuf from 'protobufjs';
import { TernError } from '../core/errors.js';

export const IMG_COMMON_MAGIC = 0x54564319;
export const IMG_SERVICE_MAGIC = 0x55105940;

/** Image types tern reads: file, magic, protobuf message, defining .proto. */
export const IMAGE_TYPES = {
  inventory: {
    file: 'inventory.img',
    magic: 0x58313116,
    message: 'inventory_entry',
    proto: 'inventory.proto',
  },
  pstree: { file: 'pstree.img', magic: 0x50273030, message: 'pstree_entry', proto: 'pstree.proto' },
  utsns: { file: 'utsns-%d.img', magic: 0x54473203, message: 'utsns_entry', proto: 'utsns.proto' },
  core: { file: 'core-%d.img', magic: 0x55053847, message: 'core_entry', proto: 'core.proto' },
  /** What a dump or pre-dump measured (pre-copy reads how long the tree was frozen). */
  stats: { file: 'stats-dump', magic: 0x57093306, message: 'stats_entry', proto: 'stats.proto' },
} as const;
export type ImageType = keyof typeof IMAGE_TYPES;

const roots = new Map<string, protobuf.Root>();

/** protobufjs ships Google's well-known .proto files (CRIU's opts.proto imports descriptor.proto). */
const PROTOBUFJS_DIR = dirname(createRequire(import.meta.url).resolve('protobufjs/package.json'));

/** Resolves CRIU's imports in its images directory, Google's from protobufjs. */
export function resolveImport(protoDir: string): (origin: string, target: string) => string {
  return (_origin, target) =>
    target.startsWith('google/protobuf/')
      ? join(PROTOBUFJS_DIR, target)
      : join(protoDir, target.replace(/^.*\//, ''));
}

async function messageType(protoDir: string, type: ImageType): Promise<protobuf.Type> {
  const t = IMAGE_TYPES[type];
  const key = `${protoDir}/${t.proto}`;
  let root = roots.get(key);
  if (!root) {
    root = new protobuf.Root();
    root.resolvePath = resolveImport(protoDir);
    try {
      await root.load(t.proto, { keepCase: true });
    } catch (e) {
      throw new TernError(
        'FAILED_PRECONDITION',
        `cannot load CRIU's ${t.proto} from ${protoDir} (run deploy/install.sh): ${(e as Error).message}`,
      );
    }
    roots.set(key, root);
  }
  return root.lookupType(t.message);
}

/**
 * Parses the .proto files of every image type tern reads, and has protobufjs
 * generate their decoders now: it does so at a type's first use otherwise,
 * which for core.proto's nested types costs some 30 ms (2 cores) inside a
 * target's restore, the first time a tree comes to that agent.
 */
export async function loadImageTypes(protoDir: string): Promise<void> {
  for (const t of Object.keys(IMAGE_TYPES) as ImageType[])
    setupTypes(await messageType(protoDir, t), new Set());
}

/** Generates the coders of a message type and of every message type its fields use. */
function setupTypes(type: protobuf.Type, seen: Set<protobuf.Type>): void {
  if (seen.has(type)) return;
  seen.add(type);
  type.setup();
  for (const f of type.fieldsArray) {
    const sub = f.resolve().resolvedType;
    if (sub instanceof protobuf.Type) setupTypes(sub, seen);
  }
}

/** Splits an image file's bytes into its entries' raw protobuf bytes after checking magics. */
export function splitImage(buf: Buffer, type: ImageType, name: string): Buffer[] {
  const t = IMAGE_TYPES[type];
  let off = 0;
  const need = (n: number) => {
    if (off + n > buf.length) throw new TernError('DATA_LOSS', `image ${name} is truncated at byte ${off}`);
  };
  if (type !== 'inventory') {
    need(4);
    const head = buf.readUInt32LE(off);
    if (head !== IMG_COMMON_MAGIC && head !== IMG_SERVICE_MAGIC) {
      throw new TernError('DATA_LOSS', `image ${name} has a bad head magic 0x${head.toString(16)}`);
    }
    off += 4;
  }
  need(4);
  const magic = buf.readUInt32LE(off);
  if (magic !== t.magic) {
    throw new TernError('DATA_LOSS', `image ${name} is not a ${type} image (magic 0x${magic.toString(16)})`);
  }
  off += 4;
  const entries: Buffer[] = [];
  while (off < buf.length) {
    need(4);
    const len = buf.readUInt32LE(off);
    off += 4;
    need(len);
    entries.push(buf.subarray(off, off + len));
    off += len;
  }
  return entries;
}

/** Decodes every entry of an image file into plain objects. */
export async function readImage(
  protoDir: string,
  imagesDir: string,
  type: ImageType,
  id = 0,
): Promise<Record<string, unknown>[]> {
  const file = IMAGE_TYPES[type].file.replace('%d', String(id));
  let buf: Buffer;
  try {
    buf = await readFile(join(imagesDir, file));
  } catch (e) {
    throw new TernError('NOT_FOUND', `image ${file} missing in ${imagesDir}: ${(e as Error).message}`);
  }
  const msg = await messageType(protoDir, type);
  return splitImage(buf, type, file).map((raw) => {
    try {
      return msg.toObject(msg.decode(raw), { longs: Number, defaults: true, arrays: true }) as Record<
        string,
        unknown
      >;
    } catch (e) {
      throw new TernError('DATA_LOSS', `image ${file} has a malformed entry: ${(e as Error).message}`);
    }
  });
}
