/**
 * `npm start`, and the process tests and the chaos run spawn: the composition root lives in
 * src/app/ (main.ts builds the process, app.ts the areas); this path stays the entry point.
 */
import './app/main.js';
