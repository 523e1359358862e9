/** HTML of the demo origin: small, realistic pages for a fictional postal operator and its bank (Colibri Post & Bank). */

const esc = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);

const layout = (title: string, body: string): string => `<!doctype html>
<html lang="fr"><head><meta charset="utf-8"><title>${esc(title)}</title>
<meta name="viewport" content="width=device-width,initial-scale=1">
<link rel="stylesheet" href="/static/site.css"></head>
<body><header><a href="/">Colibri Post &amp; Bank (demo)</a> · <a href="/track">Suivi</a> · <a href="/search">Recherche</a> · <a href="/bank/login">Banque</a></header>
<main>${body}</main></body></html>
`;

/** Home page with the three journeys. */
export const homePage = (): string =>
  layout('Accueil', `<h1>Bienvenue</h1><p>Suivez vos colis, cherchez un bureau de poste, accédez à votre banque.</p>
<form action="/track" method="get"><input name="id" placeholder="Numéro de colis"><button>Suivre</button></form>`);

/** Parcel tracking form; lookups go to GET /track/{id} (JSON). */
export const trackPage = (): string =>
  layout('Suivi de colis', `<h1>Suivi de colis</h1>
<form id="f"><input id="id" placeholder="6A12345678901"><button>Suivre</button></form><pre id="out"></pre>
<script>document.getElementById('f').onsubmit=async(e)=>{e.preventDefault();
const r=await fetch('/track/'+encodeURIComponent(document.getElementById('id').value));
document.getElementById('out').textContent=JSON.stringify(await r.json(),null,2)}</script>`);

/** Search results page (the origin's expensive path). */
export const searchPage = (q: string): string =>
  layout('Recherche', `<h1>Recherche</h1><form><input name="q" value="${esc(q)}"><button>Chercher</button></form>
${q ? `<p>Résultats pour « ${esc(q)} » : 3 bureaux de poste.</p><ul><li>Paris Louvre</li><li>Lyon Bellecour</li><li>Marseille Colbert</li></ul>` : ''}`);

/** Bank login form (POST /bank/login with user and password). */
export const bankLoginPage = (): string =>
  layout('Banque — connexion', `<h1>Connexion</h1><form method="post" action="/bank/login">
<label>Identifiant <input name="user" autocomplete="username"></label>
<label>Mot de passe <input name="password" type="password" autocomplete="current-password"></label>
<button>Se connecter</button></form>`);

/** Account page shown after login. */
export const bankAccountPage = (): string =>
  layout('Banque — comptes', `<h1>Vos comptes</h1><p>Compte courant : 1 234,56 €</p>
<p>Les paiements en attente se valident dans l'application (POST /api/pay/authorizations).</p>`);
