// sqlite3 from this machine, imported with its closure and run every way; see program-ways.ts.
import { programWays } from './program-ways.js';

programWays('sqlite3');
