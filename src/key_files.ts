/**
 * Creating a key file without ever exposing a partial or wrongly-permissioned key: write a private
 * temp file (`wx`: never follow or reuse an existing path), flush it, then hard-link it into
 * place. Unlike rename, link fails with EEXIST instead of replacing a key a concurrent creator
 * (another replica, a test, the CLI) already published, so every creator ends up reading the same
 * key back. Used by the development issuer (identity/dev_issuer.ts) and the jwt provider's
 * development key (through sdk.ts).
 */
import { randomUUID } from 'node:crypto';
import { link, mkdir, open, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';

/** True when this call published `content` at `path`; false when a file was already there (it is left untouched). */
export async function publishExclusive(path: string, content: string, mode: number): Promise<boolean> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${randomUUID()}.tmp`;
  try {
    const handle = await open(tmp, 'wx', mode);
    try {
      await handle.writeFile(content, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await link(tmp, path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}
