// How a command ends badly. A UsageError is a mistake in how the command was called (exit 2); a
// CommandFailed means the work failed and the command already said why (exit 1).

export class UsageError extends Error {
  override readonly name = 'UsageError';
  constructor(message: string) {
    super(message);
    Object.setPrototypeOf(this, new.target.prototype);
  }
}

export class CommandFailed extends Error {
  override readonly name = 'CommandFailed';
  constructor() {
    super('the command failed; see the messages above');
    Object.setPrototypeOf(this, new.target.prototype);
  }
}
