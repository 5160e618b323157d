export { withinLoopBudget, type WithinLoopBudgetOptions } from './within';
export type { BudgetSummary, BudgetRow, BudgetAdvice, WarmupNote } from './ledger';
