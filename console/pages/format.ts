import { displayMoney } from '../../domain/money.ts';
import { html, type SafeHtml } from '../html.ts';

/** A duration in the largest sensible unit: "3 d 4 h", "12 min". */
function formatAge(milliseconds: number): string {
  const minutes = Math.floor(milliseconds / 60_000);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h ${minutes % 60} min`;
  return `${Math.floor(hours / 24)} d ${hours % 24} h`;
}

export function ageSince(iso: string, now = Date.now()): string {
  return formatAge(Math.max(0, now - Date.parse(iso)));
}

/** An instant as UTC, to the minute, in a <time> element carrying the exact value. */
export function instant(iso: string | undefined): SafeHtml {
  if (iso === undefined) return html`—`;
  return html`<time datetime="${iso}">${iso.slice(0, 16).replace('T', ' ')} UTC</time>`;
}

/**
 * Every money figure on a page goes through here, with its currency: `30.00 EUR`, at least the
 * currency's minor digits and never rounded (domain/money.ts `displayMoney`: a tier at a sub-cent
 * price keeps its digits). A table's Currency column or a heading does not replace the code on the
 * figure (docs/decisions/console.md, "Money on the pages").
 */
export function money(amount: string | undefined, currency: string | undefined): SafeHtml {
  if (amount === undefined) return html`—`;
  return html`<span class="money">${displayMoney(amount, currency)}</span
    >${currency ? html` <span class="currency">${currency}</span>` : ''}`;
}

/** Totals in several currencies, each with its code, never added together: `30.00 EUR, 100.00 USD`; `0` when none. */
export function moneyByCurrency(amounts: Readonly<Record<string, string>>): SafeHtml {
  const currencies = Object.keys(amounts).sort();
  if (currencies.length === 0) return html`<span class="money">0</span>`;
  return html`${currencies.map((currency, index) => html`${index === 0 ? '' : ', '}${money(amounts[currency], currency)}`)}`;
}

export function statusBadge(status: string): SafeHtml {
  return html`<span class="badge badge-${status}">${status}</span>`;
}

/** A query string from the values that are set. */
export function queryString(values: Record<string, string | number | undefined>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(values))
    if (value !== undefined && value !== '') search.set(key, String(value));
  const text = search.toString();
  return text === '' ? '' : `?${text}`;
}

export function externalLink(href: string | undefined, label: string): SafeHtml {
  if (href === undefined) return html``;
  return html`<a class="external" href="${href}" rel="noopener" target="_blank">${label}</a>`;
}
