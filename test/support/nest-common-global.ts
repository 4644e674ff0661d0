// See nest-common-for-cjs.cjs: the @nestjs/common instance CommonJS packages get under Jest.
import * as common from '@nestjs/common';

(globalThis as { __nestjsCommonForCjs?: unknown }).__nestjsCommonForCjs = common;
