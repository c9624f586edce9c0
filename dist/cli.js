#!/usr/bin/env node
import{createRequire as __mdcoreRequire}from'node:module';const require=__mdcoreRequire(import.meta.url);
import{a as f,b,c as E,d as R}from"./chunks/chunk-QTUWTAQI.js";import{h as m,j as l,k as g,l as h,m as v,n as $}from"./chunks/chunk-CZDCRDOM.js";import"./chunks/chunk-CACJKP2O.js";import"./chunks/chunk-CJUDJ75Z.js";import"./chunks/chunk-L636WX3W.js";import{homedir as I,tmpdir as N}from"node:os";import S from"node:path";var u=class{masker=new $;out;verbose;depth=0;constructor(e={}){this.out=e.out??(r=>process.stdout.write(`${r}
`)),this.verbose=e.verbose??!1}line(e){let r="  ".repeat(this.depth);for(let n of this.mask(e).split(`
`))this.out(`${r}${n}`)}info(e){this.line(e)}debug(e){this.verbose&&this.line(`\xB7 ${e}`)}warning(e,r){this.line(`WARNING${r?` (${r})`:""}: ${e}`)}error(e,r){this.line(`ERROR${r?` (${r})`:""}: ${e}`)}async group(e,r){this.line(`\u25B8 ${e}`),this.depth+=1;try{return await r()}finally{this.depth-=1}}secret(e){this.masker.add(e)}mask(e){return this.masker.apply(e)}};function w(o){let e={},r=[],n=!1,p=!1;for(let s=0;s<o.length;s++){let t=o[s]??"";if(t==="--help"||t==="-h"){n=!0;continue}if(t==="--verbose"||t==="-v"){p=!0;continue}let i=/^--([a-z][a-z-]*)(?:=([\s\S]*))?$/.exec(t);if(!i){r.push(`unexpected argument "${t}"`);continue}let c=i[1]??"",a=i[2];if(a===void 0){let d=o[s+1];d===void 0||d.startsWith("--")?a="true":(a=d,s++)}e[c]=a}return{inputs:e,help:n,verbose:p,errors:r}}function y(){return`Usage: mdcore-upgrade --namespace NS --tag TAG [options]

Options (the action's inputs):
${g.map(e=>`  --${e.padEnd(20)} ${l[e].accepted}${l[e].default?` (default ${l[e].default})`:""}`).join(`
`)}
  --verbose              show every command
`}async function O(o){let e=w(o);if(e.help)return process.stdout.write(y()),0;let r=new u({verbose:e.verbose});if(e.errors.length)return r.error(`${e.errors.join(`
`)}

${y()}`),2;for(let[i,c]of[["kubeconfig","MDCORE_KUBECONFIG"],["license-key","MDCORE_LICENSE_KEY"],["api-key","MDCORE_API_KEY"],["config-password","MDCORE_CONFIG_PASSWORD"]]){let a=process.env[c];a&&e.inputs[i]===void 0&&(e.inputs[i]=a)}process.env.RUNNER_TOOL_CACHE||=S.join(process.env.XDG_CACHE_HOME||S.join(I(),".cache"),"mdcore-upgrade-action","tool-cache"),process.env.RUNNER_TEMP||=N();let n=h(e.inputs);if(!n.ok)return r.error(v(n.errors)),2;let p=new AbortController,s=()=>p.abort();process.once("SIGINT",s),process.once("SIGTERM",s);let t=await f(n.plan,{reporter:r,tools:m(n.plan,r),signal:p.signal});return process.off("SIGINT",s),process.off("SIGTERM",s),r.info(""),r.info(b(t)),r.info(`outputs: ${Object.entries(E(t)).map(([i,c])=>`${i}=${c}`).join(" ")}`),t.result==="failed"||t.result==="rolled-back"?(r.error(R(t)),1):0}(import.meta.url===`file://${process.argv[1]}`||process.argv[1]?.endsWith("/cli.js"))&&O(process.argv.slice(2)).then(o=>process.exit(o),o=>{process.stderr.write(`Unexpected error: ${o instanceof Error?o.stack??o.message:String(o)}
`),process.exit(1)});export{O as main,w as parseArgs};
