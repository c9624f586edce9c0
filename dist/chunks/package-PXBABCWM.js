import{createRequire as __mdcoreRequire}from'node:module';const require=__mdcoreRequire(import.meta.url);
import{a}from"./chunk-OKGKAVX3.js";import"./chunk-L636WX3W.js";export{a as default};
