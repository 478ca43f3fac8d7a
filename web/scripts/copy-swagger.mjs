// Copies Swagger UI's own assets (the pinned swagger-ui-dist package) into dist/swagger/, where
// the API's /docs page loads them from: the docs work without internet, and nothing is fetched
// from a CDN.
import { copyFileSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const source = dirname(require.resolve("swagger-ui-dist/package.json"));
const target = join(dirname(fileURLToPath(import.meta.url)), "..", "dist", "swagger");
// What /docs references (api/routes/web.py); the bundle's source map is left out (3 MB).
const ASSETS = ["swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png"];

mkdirSync(target, { recursive: true });
for (const name of ASSETS) copyFileSync(join(source, name), join(target, name));
console.log(`copied Swagger UI's ${ASSETS.length} assets into dist/swagger/`);
