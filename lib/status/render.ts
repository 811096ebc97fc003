/**
 * The status page: one static HTML file, no script, no server. Every value
 * from an upload is escaped; build logs are linked relative to the page, so
 * any web server serving the archive and the page serves the links.
 */
import { formatAge } from '../units.js';
import type { BuildState, FarmStatus } from './collect.js';

export interface RenderOptions {
  /** URL (usually relative to the page) of the archive directory, for log links. */
  readonly archiveUrl: string;
}

const STATE_TITLE: Readonly<Record<BuildState, string>> = {
  waiting: 'waiting',
  building: 'building',
  built: 'built',
  failed: 'failed',
  installed: 'installed',
};

export function renderStatusPage(status: FarmStatus, options: RenderOptions): string {
  const architectures = [...new Set(status.uploads.flatMap((upload) => upload.builds.map((build) => `${build.architecture}/${build.platform}`)))].sort();
  const rows = status.uploads.map((upload) => {
    const cells = architectures.map((column) => {
      const build = upload.builds.find((candidate) => `${candidate.architecture}/${candidate.platform}` === column);
      if (build === undefined) return '<td class="none"></td>';
      const title = build.where === undefined ? '' : ` title="${escape(build.where)}"`;
      const text = build.log === undefined ? STATE_TITLE[build.state] : `<a href="${escape(joinUrl(options.archiveUrl, build.log))}">${STATE_TITLE[build.state]}</a>`;
      return `<td class="state ${build.state}" data-state="${build.state}"${title}>${text}</td>`;
    });
    return `<tr data-key="${escape(upload.key)}"><th scope="row">${escape(upload.source)}</th><td>${escape(upload.version)}</td><td class="key">${escape(upload.key)}</td>${cells.join('')}</tr>`;
  });
  const queues = status.queues.map(
    (queue) =>
      `<tr><th scope="row">${escape(queue.name)}</th><td>${escape(queue.architectures.join(' '))}</td><td>${queue.waiting}</td><td>${queue.building}</td><td>${queue.oldestSeconds <= 0 ? '—' : formatAge(queue.oldestSeconds)}</td></tr>`,
  );
  const incoming = status.incoming.map((upload) => `<li>${escape(upload.name)}: ${escape(upload.state)}</li>`);
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escape(status.farm)}: build status</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; margin-bottom: 1.5em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; }
thead th { background: #f0f0f0; }
td.key { font-family: monospace; color: #666; }
td.state { text-align: center; font-weight: 600; }
td.waiting { background: #eef; } td.building { background: #ffd; } td.built { background: #dfd; }
td.installed { background: #9d9; } td.failed { background: #f99; }
td.state a { color: inherit; }
</style>
</head>
<body>
<h1>${escape(status.farm)}</h1>
<p>Generated ${escape(status.generatedAt)}.</p>
<h2>Build queues</h2>
<table id="queues">
<thead><tr><th>queue</th><th>architectures</th><th>waiting</th><th>building</th><th>oldest</th></tr></thead>
<tbody>
${queues.join('\n')}
</tbody>
</table>
<h2>Awaiting review</h2>
${incoming.length === 0 ? '<p id="incoming">No uploads in incoming/.</p>' : `<ul id="incoming">\n${incoming.join('\n')}\n</ul>`}
<h2>Packages</h2>
<table id="packages">
<thead><tr><th>source</th><th>version</th><th>upload</th>${architectures.map((column) => `<th>${escape(column)}</th>`).join('')}</tr></thead>
<tbody>
${rows.join('\n')}
</tbody>
</table>
</body>
</html>
`;
}

function escape(text: string): string {
  return text.replace(/[&<>"']/g, (character) => `&#${character.charCodeAt(0)};`);
}

function joinUrl(base: string, path: string): string {
  return `${base.replace(/\/+$/, '')}/${path.split('/').map(encodeURIComponent).join('/')}`;
}

