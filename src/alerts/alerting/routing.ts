/**
 * Alertmanager's routing semantics on an alert's labels (pure):
 * - a route matches when all its matchers match; the root matches every alert;
 * - an alert descends into the first child that matches, and on into later siblings too when a
 *   matching child has `continue: true`; a route none of whose children match handles the alert;
 * - children inherit receiver, group_by and the intervals unless they set their own;
 * - the group key is the route plus the values of its group_by labels ('...': every label).
 * Inhibition: a firing alert matching an inhibit rule's source mutes an alert matching its target
 * when the labels in `equal` have the same values in both (an alert never inhibits itself).
 */
import type { AlertingConfig, InhibitRule, RouteNode } from './alerting-config';
import { matchesAll } from './matchers';
import { intervalContains } from './time-intervals';

export interface RouteMatch {
  route: RouteNode;
  receiver: string;
  /** Stable within a configuration: the route's path and the grouped label values. */
  groupKey: string;
  groupLabels: Record<string, string>;
}

function visit(node: RouteNode, labels: Readonly<Record<string, string>>, out: RouteNode[]): boolean {
  if (node.matchers.length && !matchesAll(node.matchers, labels)) return false;
  let matchedChild = false;
  for (const child of node.routes) {
    if (visit(child, labels, out)) {
      matchedChild = true;
      if (!child.continue) break;
    }
  }
  if (!matchedChild) out.push(node);
  return true;
}

export function groupLabelsOf(route: RouteNode, labels: Readonly<Record<string, string>>): Record<string, string> {
  const names = route.groupBy === '...' ? Object.keys(labels).sort() : route.groupBy;
  return Object.fromEntries(names.map((n) => [n, labels[n] ?? '']));
}

/** Every route that handles an alert with these labels, in order. */
export function routeAlert(root: RouteNode, labels: Readonly<Record<string, string>>): RouteMatch[] {
  const handled: RouteNode[] = [];
  visit(root, labels, handled);
  return handled.map((route) => {
    const groupLabels = groupLabelsOf(route, labels);
    const key = Object.entries(groupLabels).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(',');
    return { route, receiver: route.receiver, groupKey: `${route.path}:{${key}}`, groupLabels };
  });
}

/** Muted at `at` by the route's mute intervals, or outside its active intervals. */
export function mutedByTime(config: AlertingConfig, route: RouteNode, at: Date): string | null {
  for (const name of route.muteTimeIntervals) if (intervalContains(config.timeIntervals.get(name) ?? [], at)) return `mute interval '${name}'`;
  if (route.activeTimeIntervals.length && !route.activeTimeIntervals.some((name) => intervalContains(config.timeIntervals.get(name) ?? [], at))) {
    return `outside active intervals ${route.activeTimeIntervals.map((n) => `'${n}'`).join(', ')}`;
  }
  return null;
}

/** The inhibit rule that mutes `target`, given the other firing alerts' labels, or null. */
export function inhibitedBy(rules: readonly InhibitRule[], target: Readonly<Record<string, string>>, firing: ReadonlyArray<Readonly<Record<string, string>>>): InhibitRule | null {
  for (const rule of rules) {
    if (!matchesAll(rule.target, target)) continue;
    for (const source of firing) {
      if (source === target) continue;
      // An alert matching both sides of a rule does not inhibit itself, nor another alert with the same labels.
      if (!matchesAll(rule.source, source) || (matchesAll(rule.target, source) && sameLabels(source, target))) continue;
      if (rule.equal.every((n) => (source[n] ?? '') === (target[n] ?? ''))) return rule;
    }
  }
  return null;
}

function sameLabels(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}
