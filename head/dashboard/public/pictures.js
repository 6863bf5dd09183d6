// The run's pictures (results.png, PR/F1/P/R curves, confusion matrix, label statistics, batch
// mosaics) from the job's artifacts: the four a user looks at first on top (label statistics as
// soon as the run starts, the latest training batch, and the PR curve and confusion matrix once
// validation has run), every picture below as a thumbnail; a click opens it full size. Images
// are fetched with the page's credentials (a bearer token cannot ride on <img src>) and shown
// from blob URLs; a picture uploaded again (results.png after every epoch) is fetched again.
import { fetchBlob } from './api.js';
import { el } from './util.js';

export const isPicture = (name) => /\.(png|jpe?g)$/i.test(name);

const latestTrainBatch = (names) =>
  names
    .filter((n) => /^train_batch\d+\.jpg$/.test(n))
    .sort((a, b) => Number(a.match(/\d+/)[0]) - Number(b.match(/\d+/)[0]))
    .at(-1);

const FIRST = [
  { key: 'labels', title: 'Label statistics', pick: (names) => names.find((n) => n === 'labels.jpg'), wait: 'drawn before the first step' },
  { key: 'train-batch', title: 'Latest training batch', pick: latestTrainBatch, wait: 'after the first steps' },
  { key: 'pr', title: 'PR curve', pick: (names) => names.find((n) => n === 'PR_curve.png'), wait: 'once validation has run' },
  {
    key: 'confusion',
    title: 'Confusion matrix',
    pick: (names) => names.find((n) => n === 'confusion_matrix.png'),
    wait: 'once validation has run',
  },
];

export class Pictures {
  constructor(jobId, signal) {
    this.jobId = jobId;
    this.signal = signal;
    this.cache = new Map(); // name -> { url, version }
    this.versions = new Map(); // name -> how many times it was uploaded (artifact events)
    this.viewer = el(
      'dialog.viewer',
      el(
        'div.bar',
        el('h2'),
        el('a.open', { target: '_blank', rel: 'noopener' }, 'open in a new tab'),
        el('button', { name: 'close', onclick: () => this.viewer.close() }, 'Close'),
      ),
      el('div.full', el('img', { alt: '' })),
    );
    this.viewer.addEventListener('click', (ev) => {
      if (ev.target === this.viewer) this.viewer.close();
    });
    this.first = el('div.first');
    this.thumbs = el('div.thumbs');
    this.root = el('section.card.pictures', el('h2', 'Pictures'), this.first, el('h3', 'All pictures'), this.thumbs, this.viewer);
    this.names = [];
    this.draw();
    signal.addEventListener('abort', () => {
      for (const c of this.cache.values()) URL.revokeObjectURL(c.url);
    });
  }

  /** An artifact event: that picture changed. */
  uploaded(name) {
    if (isPicture(name)) this.versions.set(name, (this.versions.get(name) ?? 0) + 1);
  }

  /** The job's artifact list: fetch what is new or changed, then redraw. */
  async update(list) {
    const names = list.map((a) => a.name).filter(isPicture);
    await Promise.all(
      names.map(async (name) => {
        const version = this.versions.get(name) ?? 0;
        const had = this.cache.get(name);
        if (had && had.version >= version) return;
        const blob = await fetchBlob(`/v1/jobs/${encodeURIComponent(this.jobId)}/artifacts/${encodeURIComponent(name)}`, this.signal);
        const typed = blob.type.startsWith('image/')
          ? blob
          : new Blob([blob], { type: name.endsWith('.png') ? 'image/png' : 'image/jpeg' });
        const url = URL.createObjectURL(typed);
        if (had) URL.revokeObjectURL(had.url);
        this.cache.set(name, { url, version });
      }),
    );
    this.names = names.sort();
    this.draw();
  }

  open(name) {
    const c = this.cache.get(name);
    if (!c) return;
    this.viewer.querySelector('h2').textContent = name;
    this.viewer.querySelector('a.open').href = c.url;
    this.viewer.querySelector('img').src = c.url;
    this.viewer.querySelector('img').alt = name;
    this.viewer.dataset.picture = name;
    if (!this.viewer.open) this.viewer.showModal();
  }

  thumb(name, cls = 'figure.thumb') {
    const c = this.cache.get(name);
    return el(
      `button.${cls}`,
      { type: 'button', title: `${name}: click for full size`, dataset: { picture: name }, onclick: () => this.open(name) },
      el('img', { src: c.url, alt: name, loading: 'lazy' }),
      el('span.caption', name),
    );
  }

  draw() {
    const have = this.names.filter((n) => this.cache.has(n));
    this.first.replaceChildren(
      ...FIRST.map((f) => {
        const name = f.pick(have);
        return el(
          'div.slot',
          { dataset: { slot: f.key } },
          el('h3', f.title),
          name ? this.thumb(name, 'figure.big') : el('p.muted', f.wait),
        );
      }),
    );
    this.thumbs.replaceChildren(...(have.length ? have.map((n) => this.thumb(n)) : [el('p.muted', 'none yet')]));
  }
}
