import fs from 'node:fs';
import { Command, CommandRunner } from 'nest-commander';
import { ProviderImportService, type ImportOutcome } from '../providers/provider-import.service.js';

function describe(o: ImportOutcome): string {
  const who = `#${o.index} ${JSON.stringify(o.name ?? '(no name)')}`;
  switch (o.outcome) {
    case 'created':
      return `created  ${who} as provider ${o.id}`;
    case 'skipped':
      return `skipped  ${who}: ${o.reason}`;
    case 'rejected':
      return `rejected ${who}: ${JSON.stringify(o.errors)}`;
  }
}

@Command({
  name: 'providers:import',
  arguments: '<file>',
  description: "Import providers from a JSON array in the seed's field names; idempotent by name",
})
export class ImportProvidersCommand extends CommandRunner {
  constructor(private readonly importer: ProviderImportService) {
    super();
  }

  async run([file]: string[]): Promise<void> {
    let records: unknown;
    try {
      records = JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch (err) {
      // Not the parser's message: it quotes the file, and the file may hold passwords.
      const reason = (err as NodeJS.ErrnoException).code ? (err as NodeJS.ErrnoException).code : 'not valid JSON';
      throw new Error(`cannot read ${file}: ${reason}`);
    }
    if (!Array.isArray(records)) throw new Error(`${file} must hold a JSON array of providers`);
    const outcomes = await this.importer.importAll(records);
    for (const o of outcomes) process.stdout.write(`${describe(o)}\n`);
    const count = (kind: ImportOutcome['outcome']) => outcomes.filter((o) => o.outcome === kind).length;
    process.stdout.write(`${count('created')} created, ${count('skipped')} skipped, ${count('rejected')} rejected\n`);
    if (count('rejected')) process.exitCode = 2;
  }
}
