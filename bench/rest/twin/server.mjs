// node server.mjs: the twin (app.mjs) in TWIN_PROCS processes (default 1;
// more = node:cluster workers sharing the port, as a team would scale it on
// one machine).
import cluster from 'node:cluster';

const procs = Number(process.env.TWIN_PROCS || 1);
if (cluster.isPrimary && procs > 1) {
  const env = { TWIN_KEY: process.env.TWIN_KEY }; // added to the workers' environment
  delete process.env.TWIN_KEY;
  for (let i = 0; i < procs; i++) cluster.fork(env);
  cluster.on('exit', () => process.exit(1)); // a dead worker ends the run
  process.on('SIGTERM', () => {
    cluster.removeAllListeners('exit');
    for (const w of Object.values(cluster.workers)) w.process.kill('SIGTERM');
    process.exit(0);
  });
} else {
  await import('./app.mjs');
}
