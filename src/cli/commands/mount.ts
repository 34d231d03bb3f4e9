import type { Command } from 'commander';
import type { CommandContext } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { STORE_OPTION } from '../options.js';

const MOUNT_HELP = `
Examples:
  $ cald mount /mnt/cald                     the default store, served in the background
  $ sha256sum /mnt/cald/objects/sha256/e963…944      every object by its hash: sum = name
  $ cald import --tree ffmpeg --name ffmpeg  a package as a tree object
  $ eval "$(cald env)"; /mnt/cald/trees/sha256/<hex>/usr/bin/ffmpeg -version
  $ cald mount /mnt/cald --store /srv/store --foreground    until Ctrl-C, log on stderr
  $ cald mount /mnt/cald --log /var/log/cald-mount.log
  $ cald unmount /mnt/cald

The view is read-only (mode 0555, owned by you): objects/sha256/<hex> is an object (r-x when the
store marks it executable), trees/sha256/<hex>/ a tree object as its directory. Every object is
hashed before it is served; one absent from the store is asked of the fetch daemon (cald
fetch-daemon), and a missing or unverifiable one gives ENOENT or EIO. Inode numbers come from the
digests: the same on every mount. Needs root and /dev/fuse. See docs/mount.md.`;

const UNMOUNT_HELP = `
Examples:
  $ cald unmount /mnt/cald
  $ cald unmount --lazy /mnt/cald            detach now; gone when the last user lets go

Unmounts a cald mount, also one whose server died (its files then answer ENOTCONN). Any other
mount point is refused.`;

export function register(program: Command, ctx: CommandContext): void {
  program
    .command('mount')
    .description('the store as a read-only file system: objects and trees by hash (FUSE)')
    .argument('<dir>', 'an empty directory to mount on')
    .option(...STORE_OPTION)
    .option('--foreground', 'stay in front until the mount ends (Ctrl-C unmounts)')
    .option('--no-passthrough', 'serve every read from the server, not by kernel passthrough')
    .option('--log <file>', "append the server's log (refused objects, failed fetches) to this file")
    .option('--json', 'print the report as JSON')
    .addHelpText('after', MOUNT_HELP)
    .action(
      async (
        dir: string,
        flags: { store?: string; foreground?: boolean; passthrough: boolean; log?: string; json?: boolean },
      ) => {
        const { io } = ctx;
        const { mount } = await import('../../api/mount.js');
        const print = (r: { dir: string; store: string; reads: string; pid: number }) =>
          io.out(
            flags.json === true
              ? `${JSON.stringify(r, null, 2)}\n`
              : `${r.dir}: ${r.store} mounted read-only (${r.reads === 'passthrough' ? 'kernel passthrough reads' : 'reads through the server'}), server pid ${r.pid}\n`,
          );
        await mount({
          dir,
          ...(flags.store === undefined ? {} : { store: flags.store }),
          env: io.env,
          passthrough: flags.passthrough,
          ...(flags.log === undefined ? {} : { log: flags.log }),
          ...(flags.foreground === true ? { foreground: true, onReady: print } : {}),
        }).then((r) => {
          if (flags.foreground !== true) print(r);
        });
        ctx.setStatus(EXIT.OK);
      },
    );
  program
    .command('unmount')
    .description('unmount a cald mount')
    .argument('<dir>', 'the mount point')
    .option('--lazy', 'detach even if busy (umount -l)')
    .option('--json', 'print the report as JSON')
    .addHelpText('after', UNMOUNT_HELP)
    .action(async (dir: string, flags: { lazy?: boolean; json?: boolean }) => {
      const { io } = ctx;
      const { unmount } = await import('../../api/mount.js');
      const r = await unmount({ dir, ...(flags.lazy === true ? { lazy: true } : {}), env: io.env });
      io.out(flags.json === true ? `${JSON.stringify(r, null, 2)}\n` : `${r.dir}: unmounted\n`);
      ctx.setStatus(EXIT.OK);
    });
}
