import { spawnSync } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The nginx binary Debian installs (scripts/ensure-system-packages.sh), or `nginx` from PATH. */
export function nginxBinary(): string {
  return ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => spawnSync('test', ['-x', p]).status === 0) ?? 'nginx';
}

/**
 * Writes a one-worker nginx configuration under `dir/name` (its pid, logs and temporary paths
 * there, writable by nginx's unprivileged worker) with `http` inside the http block; returns its path.
 */
export function writeNginxConf(dir: string, name: string, http: string, errorLevel = 'warn'): string {
  const d = join(dir, name);
  spawnSync('mkdir', ['-p', d]);
  chmodSync(d, 0o777);
  const file = join(d, 'nginx.conf');
  writeFileSync(file, `worker_processes 1;
daemon off;
pid ${d}/nginx.pid;
error_log ${d}/error.log ${errorLevel};
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path ${d}/body; proxy_temp_path ${d}/proxy; fastcgi_temp_path ${d}/fcgi;
  uwsgi_temp_path ${d}/uwsgi; scgi_temp_path ${d}/scgi;
  keepalive_requests 100000;
${http}
}
`);
  return file;
}
