import { COMMANDS as BASE } from './commands';
import { PAYMENT_COMMANDS, withCardTopUp } from './payments';

/** Every command of `chainfaas`: commands.ts's, with `top-up --card`, and the payout commands (payments.ts). */
export const COMMANDS = [...BASE.map(withCardTopUp), ...PAYMENT_COMMANDS];
