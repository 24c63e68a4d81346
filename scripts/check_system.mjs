// First step of `npm test`: stop at once, with the one install line, when a system package the
// suite needs is missing (rather than minutes later, in the middle of the run).
//   node scripts/check_system.mjs            exit 1 and say what to install if anything is missing
//   node scripts/check_system.mjs --missing  print the missing package names (for .ci/run)
import { installLine, missingPackages } from './system_packages.mjs';
import process from 'node:process';

const missing = missingPackages();
if (process.argv.includes('--missing')) {
  process.stdout.write(missing.length > 0 ? `${missing.join(' ')}\n` : '');
} else if (missing.length > 0) {
  process.stderr.write(
    `npm test needs system packages that are missing here: ${missing.join(', ')}\nInstall them (Debian/Ubuntu, as root):\n  apt-get update && ${installLine()}\n`,
  );
  process.exit(1);
}
