export { startOtel, type StartOtelOptions, type OtelHandle } from './start-sdk';
export { instrumentName, instrumentKind, prometheusViews, METER_NAME } from './instruments';
export type { InstrumentKind } from './instruments';
export { STALL_EVENT, DELAYED_EVENT } from './span-events';
