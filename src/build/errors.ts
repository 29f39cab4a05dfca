/** A build step failed: names the step (toolchain, configure, build) so the report can say where. */
export class BuildError extends Error {
  constructor(
    readonly step: string,
    message: string,
  ) {
    super(message);
    this.name = 'BuildError';
  }
}
