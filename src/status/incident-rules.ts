import type { ComponentState, Judgement } from './component-state.js';

/** How bad an incident is for customers. */
export type Impact = 'minor' | 'major';

/** The attack phase the shield reports (worst over route classes). */
export type AttackPhase = 'normal' | 'suspect' | 'recovering' | 'under_attack';

/** An automatic incident that is open now, by key ("attack", "component:<id>"), with the stage it last announced. */
export interface OpenAuto {
  readonly stage: string;
}

/** One component as the rules see it. */
export interface ComponentInput {
  readonly id: string;
  readonly name: string;
  readonly downMessage?: string | undefined;
  readonly judgement: Judgement;
}

/** What the status service must do; the rules decide, the service persists and renders. */
export type IncidentAction =
  | { readonly kind: 'open'; readonly key: string; readonly component: string | null; readonly title: string; readonly impact: Impact; readonly message: string; readonly stage: string }
  | { readonly kind: 'update'; readonly key: string; readonly impact: Impact; readonly message: string; readonly stage: string }
  | { readonly kind: 'resolve'; readonly key: string; readonly message: string };

export const ATTACK_KEY = 'attack';
export const componentKey = (id: string): string => `component:${id}`;

const ATTACK_TITLE = 'Unusually heavy traffic: protection measures active';
const ATTACK_OPEN = 'We are receiving an unusually high volume of traffic. Protection measures are active: '
  + 'some visitors may be asked to wait a few seconds while their browser is checked. Services stay available.';
const ATTACK_RECOVERING = 'Traffic is decreasing. Protection measures stay active while we keep watching.';
const ATTACK_RESOLVED = 'Traffic is back to normal. Protection measures have been lifted.';

const componentTitle = (c: ComponentInput, state: ComponentState): string =>
  state === 'outage' ? (c.downMessage ?? `${c.name} unavailable`) : `${c.name} degraded`;
const componentMessage = (c: ComponentInput, state: ComponentState): string =>
  state === 'outage'
    ? `${c.downMessage ?? `${c.name} is unavailable.`} We are working on it.`
    : `${c.name} is slower or less reliable than usual (${c.judgement.cause}). We are working on it.`;

/**
 * Which automatic incidents open, change or close, from the attack phase and the components'
 * judgements. Pure: the same inputs and open set always give the same actions.
 *
 * - The attack incident opens when the shield confirms an attack ("under attack"), announces
 *   "recovering", and closes only once detection is back to normal (not on the first calm second).
 * - A component incident opens when its component leaves "operational", is updated when it moves
 *   between degraded and outage, and closes when it is operational again.
 */
export function incidentActions(open: ReadonlyMap<string, OpenAuto>, phase: AttackPhase, components: readonly ComponentInput[]): IncidentAction[] {
  const out: IncidentAction[] = [];
  const attack = open.get(ATTACK_KEY);
  if (!attack) {
    if (phase === 'under_attack') {
      out.push({ kind: 'open', key: ATTACK_KEY, component: null, title: ATTACK_TITLE, impact: 'minor', message: ATTACK_OPEN, stage: 'under_attack' });
    }
  } else if (phase === 'normal') {
    out.push({ kind: 'resolve', key: ATTACK_KEY, message: ATTACK_RESOLVED });
  } else if (phase === 'recovering' && attack.stage !== 'recovering') {
    out.push({ kind: 'update', key: ATTACK_KEY, impact: 'minor', message: ATTACK_RECOVERING, stage: 'recovering' });
  } else if (phase === 'under_attack' && attack.stage !== 'under_attack') {
    out.push({ kind: 'update', key: ATTACK_KEY, impact: 'minor', message: ATTACK_OPEN, stage: 'under_attack' });
  }
  for (const c of components) {
    const key = componentKey(c.id);
    const current = open.get(key);
    const state = c.judgement.state;
    if (state === 'operational') {
      if (current) out.push({ kind: 'resolve', key, message: `${c.name} is working normally again.` });
      continue;
    }
    const impact: Impact = state === 'outage' ? 'major' : 'minor';
    if (!current) {
      out.push({ kind: 'open', key, component: c.id, title: componentTitle(c, state), impact, message: componentMessage(c, state), stage: state });
    } else if (current.stage !== state) {
      out.push({ kind: 'update', key, impact, message: componentMessage(c, state), stage: state });
    }
  }
  return out;
}
