import type { Judgement } from './component-state.js';
import { STATUS_TEXTS, type StatusTexts } from './texts.js';

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

/**
 * Which automatic incidents open, change or close, from the attack phase and the components'
 * judgements. Pure: the same inputs and open set always give the same actions.
 *
 * - The attack incident opens when the shield confirms an attack ("under attack"), announces
 *   "recovering", and closes only once detection is back to normal (not on the first calm second).
 * - A component incident opens when its component leaves "operational", is updated when it moves
 *   between degraded and outage, and closes when it is operational again.
 */
export function incidentActions(open: ReadonlyMap<string, OpenAuto>, phase: AttackPhase, components: readonly ComponentInput[], t: StatusTexts = STATUS_TEXTS.en): IncidentAction[] {
  const out: IncidentAction[] = [];
  const componentTitle = (c: ComponentInput): string =>
    c.judgement.state === 'outage' ? (c.downMessage ?? t.componentUnavailableTitle(c.name)) : t.componentDegradedTitle(c.name);
  const componentMessage = (c: ComponentInput): string =>
    c.judgement.state === 'outage'
      ? `${c.downMessage ?? t.componentUnavailable(c.name)} ${t.workingOnIt}`
      : t.componentDegraded(c.name, c.judgement.failingPercent);
  const attack = open.get(ATTACK_KEY);
  if (!attack) {
    if (phase === 'under_attack') {
      out.push({ kind: 'open', key: ATTACK_KEY, component: null, title: t.attackTitle, impact: 'minor', message: t.attackOpen, stage: 'under_attack' });
    }
  } else if (phase === 'normal') {
    out.push({ kind: 'resolve', key: ATTACK_KEY, message: t.attackResolved });
  } else if (phase === 'recovering' && attack.stage !== 'recovering') {
    out.push({ kind: 'update', key: ATTACK_KEY, impact: 'minor', message: t.attackRecovering, stage: 'recovering' });
  } else if (phase === 'under_attack' && attack.stage !== 'under_attack') {
    out.push({ kind: 'update', key: ATTACK_KEY, impact: 'minor', message: t.attackOpen, stage: 'under_attack' });
  }
  for (const c of components) {
    const key = componentKey(c.id);
    const current = open.get(key);
    const state = c.judgement.state;
    if (state === 'operational') {
      if (current) out.push({ kind: 'resolve', key, message: t.componentBack(c.name) });
      continue;
    }
    const impact: Impact = state === 'outage' ? 'major' : 'minor';
    if (!current) {
      out.push({ kind: 'open', key, component: c.id, title: componentTitle(c), impact, message: componentMessage(c), stage: state });
    } else if (current.stage !== state) {
      out.push({ kind: 'update', key, impact, message: componentMessage(c), stage: state });
    }
  }
  return out;
}
