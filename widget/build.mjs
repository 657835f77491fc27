// Bundle src/carechat.js (with socket.io-client and the stylesheet) into one minified IIFE:
// dist/carechat.js. Prints its size and gzipped size, and fails above the size budget.
//
//   node build.mjs            build once
//   node build.mjs --watch    rebuild on every change (development)
import { readFileSync, statSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import * as esbuild from 'esbuild';

const here = new URL('.', import.meta.url).pathname;
const pkg = JSON.parse(readFileSync(`${here}package.json`, 'utf8'));
const outfile = `${here}dist/carechat.js`;
const GZIP_BUDGET_BYTES = 30 * 1024;

// carechat.css is imported as a string (view.js puts it in the shadow root), minified.
const minifiedCss = {
  name: 'minified-css-text',
  setup(build) {
    build.onLoad({ filter: /\.css$/ }, async (args) => {
      const source = readFileSync(args.path, 'utf8');
      const { code } = await esbuild.transform(source, { loader: 'css', minify: true });
      return { contents: `export default ${JSON.stringify(code.trim())};`, loader: 'js' };
    });
  },
};

const options = {
  entryPoints: [`${here}src/carechat.js`],
  outfile,
  bundle: true,
  format: 'iife',
  minify: true,
  sourcemap: 'linked',
  target: ['chrome90', 'edge90', 'firefox90', 'safari15'],
  legalComments: 'eof',
  define: { __CARECHAT_VERSION__: JSON.stringify(pkg.version) },
  plugins: [minifiedCss],
  logLevel: 'warning',
};

function report() {
  const raw = statSync(outfile).size;
  const gzipped = gzipSync(readFileSync(outfile), { level: 9 }).length;
  const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
  console.log(`dist/carechat.js  ${kib(raw)} (${raw} bytes), gzipped ${kib(gzipped)} (${gzipped} bytes)`);
  return gzipped;
}

if (process.argv.includes('--watch')) {
  const context = await esbuild.context({
    ...options,
    plugins: [...options.plugins, { name: 'report', setup: (b) => b.onEnd(() => report()) }],
  });
  await context.watch();
  console.log('watching src/ for changes…');
} else {
  await esbuild.build(options);
  const gzipped = report();
  if (gzipped > GZIP_BUDGET_BYTES) {
    console.error(`size budget exceeded: ${gzipped} > ${GZIP_BUDGET_BYTES} bytes gzipped`);
    process.exit(1);
  }
}
