import { INCIDENT_DAYS, incidentDeadline, incidentStatus } from '../../../src/domain/incident';

describe('serious incidents (EU AI Act Art. 73)', () => {
  it('sets the reporting deadline from awareness by category: 2, 10 or 15 days', () => {
    const aware = '2026-11-01T08:30:00.000Z';
    expect(incidentDeadline('widespread_or_critical_infrastructure', aware)).toBe('2026-11-03T08:30:00.000Z');
    expect(incidentDeadline('death', aware)).toBe('2026-11-11T08:30:00.000Z');
    expect(incidentDeadline('other', aware)).toBe('2026-11-16T08:30:00.000Z');
    expect(INCIDENT_DAYS).toEqual({ death: 10, widespread_or_critical_infrastructure: 2, other: 15 });
  });

  it('is open until the deadline, overdue after it, reported (or reported late) once reported', () => {
    const deadline = '2026-11-16T08:30:00.000Z';
    const before = Date.parse(deadline) - 1;
    const after = Date.parse(deadline) + 1;
    expect(incidentStatus({ deadline, reported_at: null }, before)).toBe('open');
    expect(incidentStatus({ deadline, reported_at: null }, after)).toBe('overdue');
    expect(incidentStatus({ deadline, reported_at: '2026-11-10T00:00:00.000Z' }, after)).toBe('reported');
    expect(incidentStatus({ deadline, reported_at: '2026-11-17T00:00:00.000Z' }, after)).toBe('reported_late');
  });
});
